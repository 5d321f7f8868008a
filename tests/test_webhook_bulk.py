"""1,000 statuses in one POST are applied with a handful of queries, whatever their number."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from campaigns import stats
from campaigns.models import Recipient, UnmatchedStatus
from tests.factories import make_campaign
from tests.webhook_payloads import TS, payload, post_signed, sent_recipients, status

pytestmark = pytest.mark.django_db

# Event insert, lock rows, bulk update, counters, unmatched insert, in-doubt lookup, event
# update, and the transaction's savepoint statements: it must not grow with the statuses.
MAX_QUERIES = 20


def test_a_thousand_statuses_over_two_campaigns_take_a_fixed_number_of_queries() -> None:
    first, second = make_campaign(), make_campaign(name="Second")
    recipients = sent_recipients(first, 500) + sent_recipients(second, 490, start=500)
    statuses = [status(r.wamid, "delivered", timestamp=TS) for r in recipients[:600]]
    statuses += [status(r.wamid, "read", timestamp=TS + 5) for r in recipients[600:]]
    statuses += [status(f"wamid.UNKNOWN{i}", "sent") for i in range(10)]
    assert len(statuses) == 1000

    with CaptureQueriesContext(connection) as queries:
        response = post_signed(Client(), payload(statuses))

    assert response.status_code == 200
    assert len(queries) <= MAX_QUERIES, [q["sql"][:120] for q in queries]
    assert Recipient.objects.filter(status="delivered").count() == 600
    assert Recipient.objects.filter(status="read").count() == 390
    assert UnmatchedStatus.objects.count() == 10
    for campaign in (first, second):
        campaign.refresh_from_db()
        assert stats.recount(campaign.pk) == {
            s: getattr(campaign, f) for s, f in stats.COUNTER_FIELDS.items()
        }
    first.refresh_from_db()
    assert (first.delivered_count, first.sent_count) == (500, 0)
