"""A campaign's status follows its runs: draft → sending → completed, or failed."""

from __future__ import annotations

import pytest

from campaigns.models import AuditLog, Campaign
from campaigns.sending.driver import drive
from campaigns.sending.runs import start_run
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_draft_campaign_is_sending_once_started_and_completed_when_nothing_is_left(
    sandbox, whatsapp
) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 2)
    assert campaign.status == Campaign.Status.DRAFT

    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=5,
        delay_seconds=1,
        max_retries=1,
        enqueue=False,
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.started_at is not None and campaign.completed_at is None
    start = AuditLog.objects.get(action="batch.start")
    assert start.details["pending"] == 2 and start.details["max_retries"] == 1

    drive(run_id=run.pk, client=whatsapp)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.completed_at is not None and campaign.completed_at >= campaign.started_at


def test_a_run_that_fails_marks_the_campaign_failed(sandbox, whatsapp) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 2)
    sandbox.state.set_script(parse_script({"all": "131031"}))  # account locked
    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=5,
        delay_seconds=1,
        max_retries=1,
        enqueue=False,
    )

    drive(run_id=run.pk, client=whatsapp)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FAILED
    assert campaign.completed_at is None and campaign.pending_count == 2


def test_a_completed_campaign_with_new_pending_recipients_goes_back_to_sending() -> None:
    campaign = make_campaign(status=Campaign.Status.COMPLETED)
    add_recipients(campaign, 2, status="sent")
    add_recipients(campaign, 1, start=10)

    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=5,
        delay_seconds=1,
        max_retries=1,
        enqueue=False,
    )

    assert run.total_count == 1
    campaign.refresh_from_db()
    assert (campaign.status, campaign.completed_at) == (Campaign.Status.SENDING, None)
