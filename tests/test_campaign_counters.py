"""Campaign figures come from counters that stay equal to the rows."""

from __future__ import annotations

import pytest

from campaigns import stats
from campaigns.models import Campaign, Recipient
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db


def test_moving_recipients_keeps_the_counters_equal_to_the_rows(campaign: Campaign) -> None:
    recipients = add_recipients(campaign, 10)
    moved = [r.pk for r in recipients[:4]]
    Recipient.objects.filter(pk__in=moved).update(status=Recipient.Status.SENT)
    stats.move(campaign.pk, from_status="pending", to_status="sent", count=len(moved))

    campaign.refresh_from_db()
    assert (campaign.pending_count, campaign.sent_count) == (6, 4)
    assert stats.recount(campaign.pk)["sent"] == 4
    campaign.refresh_from_db()
    assert (campaign.pending_count, campaign.sent_count) == (6, 4)


def test_recount_repairs_counters_that_drifted(campaign: Campaign) -> None:
    add_recipients(campaign, 5)
    Campaign.objects.filter(pk=campaign.pk).update(pending_count=99, failed_count=7)

    counts = stats.recount(campaign.pk)

    campaign.refresh_from_db()
    assert counts["pending"] == campaign.pending_count == 5
    assert campaign.failed_count == 0


def test_progress_and_success_rate_follow_the_statuses(campaign: Campaign) -> None:
    add_recipients(campaign, 2, status="pending")
    add_recipients(campaign, 5, status="sent", start=100)
    add_recipients(campaign, 2, status="read", start=200)
    add_recipients(campaign, 1, status="failed", start=300)

    assert campaign.total_recipients == 10
    assert campaign.progress_percent == 80.0
    assert campaign.success_rate_percent == 87.5  # 7 accepted of 8 finished


def test_a_campaign_without_recipients_has_no_progress_and_no_success_rate(
    campaign: Campaign,
) -> None:
    assert campaign.progress_percent == 0.0
    assert campaign.success_rate_percent is None
