"""Statuses move a recipient only forward, keep their own times, and replays change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from campaigns import stats
from campaigns.models import Campaign, Recipient
from tests.factories import make_campaign
from tests.webhook_payloads import TS, payload, post_signed, sent_recipients, status, wa_id

pytestmark = pytest.mark.django_db


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def counters(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {s: getattr(campaign, field) for s, field in stats.COUNTER_FIELDS.items() if s}


def assert_counters_match_rows(campaign: Campaign) -> None:
    before = counters(campaign)
    assert stats.recount(campaign.pk) == before


def test_delivered_then_read_moves_the_recipient_forward_with_each_time() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)
    client = Client()

    post_signed(client, payload([status(recipient.wamid, "delivered", timestamp=TS)]))
    post_signed(client, payload([status(recipient.wamid, "read", timestamp=TS + 60)]))

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.READ
    assert recipient.delivered_at == at(TS)
    assert recipient.read_at == at(TS + 60)
    assert counters(campaign)["read"] == 1 and counters(campaign)["sent"] == 0
    assert_counters_match_rows(campaign)


def test_a_late_delivered_never_overwrites_read_but_its_time_is_kept() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)
    client = Client()

    post_signed(client, payload([status(recipient.wamid, "read", timestamp=TS + 60)]))
    response = post_signed(client, payload([status(recipient.wamid, "delivered", timestamp=TS)]))

    assert response.status_code == 200
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.READ
    assert recipient.read_at == at(TS + 60)
    assert recipient.delivered_at == at(TS)
    assert_counters_match_rows(campaign)


def test_statuses_of_one_message_in_one_post_in_any_order_end_at_the_furthest() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)

    post_signed(
        Client(),
        payload(
            [
                status(recipient.wamid, "read", timestamp=TS + 2),
                status(recipient.wamid, "sent", timestamp=TS),
                status(recipient.wamid, "delivered", timestamp=TS + 1),
            ]
        ),
    )

    recipient.refresh_from_db()
    assert (recipient.status, recipient.delivered_at, recipient.read_at) == (
        Recipient.Status.READ,
        at(TS + 1),
        at(TS + 2),
    )
    assert counters(campaign)["read"] == 1


def test_a_failure_before_delivery_fails_the_recipient_with_whatsapps_error() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)

    post_signed(
        Client(),
        payload(
            [
                status(
                    recipient.wamid,
                    "failed",
                    timestamp=TS,
                    recipient_id=wa_id(recipient),
                    code=131049,
                    title="This message was not delivered to maintain healthy ecosystem "
                    "engagement.",
                    details="In order to maintain a healthy ecosystem engagement, the message "
                    "failed to be delivered.",
                )
            ]
        ),
    )

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.FAILED
    assert recipient.error_code == 131049
    assert recipient.error_message.startswith("This message was not delivered")
    assert recipient.error_details.startswith("In order to maintain")
    assert recipient.failed_at == at(TS)
    figures = counters(campaign)
    assert (figures["failed"], figures["sent"]) == (1, 0)
    assert_counters_match_rows(campaign)


def test_a_failure_after_delivery_does_not_undo_it() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)
    client = Client()
    post_signed(client, payload([status(recipient.wamid, "delivered")]))

    post_signed(client, payload([status(recipient.wamid, "failed", code=131026, title="x")]))

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.DELIVERED
    assert recipient.error_code is None and recipient.failed_at is None
    assert counters(campaign)["failed"] == 0


def test_a_delivery_reported_after_a_failure_wins_it_was_delivered() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)
    client = Client()
    post_signed(client, payload([status(recipient.wamid, "failed", code=131000, title="x")]))

    post_signed(client, payload([status(recipient.wamid, "delivered")]))

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.DELIVERED
    assert (counters(campaign)["failed"], counters(campaign)["delivered"]) == (0, 1)
    assert_counters_match_rows(campaign)


def test_a_replayed_payload_changes_nothing() -> None:
    campaign = make_campaign()
    recipients = sent_recipients(campaign, 3)
    body = payload(
        [status(r.wamid, "delivered", timestamp=TS + i) for i, r in enumerate(recipients)]
        + [status(recipients[0].wamid, "read", timestamp=TS + 10)]
    )
    client = Client()
    post_signed(client, body)
    snapshot = list(Recipient.objects.order_by("pk").values())
    figures = counters(campaign)

    for _ in range(3):
        assert post_signed(client, body).status_code == 200

    assert list(Recipient.objects.order_by("pk").values()) == snapshot
    assert counters(campaign) == figures
    assert_counters_match_rows(campaign)


def test_a_duplicate_status_inside_one_post_counts_once() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)

    post_signed(Client(), payload([status(recipient.wamid, "delivered")] * 5))

    figures = counters(campaign)
    assert (figures["delivered"], figures["sent"]) == (1, 0)
    assert_counters_match_rows(campaign)


def test_a_status_without_a_usable_timestamp_is_stamped_when_it_arrives() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)

    post_signed(Client(), payload([status(recipient.wamid, "delivered", timestamp="soon")]))

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.DELIVERED
    assert recipient.delivered_at is not None
