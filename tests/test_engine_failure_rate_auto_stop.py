"""A run stops itself when more than half of its last 20 attempts failed."""

from __future__ import annotations

import pytest

from campaigns.models import AuditLog, BatchRun, Campaign, Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def fail_these(sandbox, recipients: list[Recipient]) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.set_script(
        parse_script({"numbers": {r.phone_number: "131026" for r in recipients}})
    )


def start(campaign: Campaign, *, batch_size: int) -> BatchRun:
    return start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=batch_size,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )


def test_more_than_half_of_the_last_twenty_attempts_failing_stops_the_run(
    sandbox, whatsapp, settings
) -> None:
    assert (settings.SENDING_FAILURE_WINDOW, settings.SENDING_FAILURE_THRESHOLD) == (20, 0.5)
    campaign = make_campaign()
    recipients = add_recipients(campaign, 30)
    # 4 failures in the first batch of 10, 7 in the second: 11 of the last 20 attempts.
    fail_these(sandbox, recipients[0:4] + recipients[10:17])
    run = start(campaign, batch_size=10)

    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.FINISHED

    run.refresh_from_db()
    assert run.status == BatchRun.Status.STOPPED
    assert run.end_reason.startswith("Auto-stopped: 11 of the last 20 attempts failed")
    assert "more than 50 %" in run.end_reason
    assert (run.batches_done, run.sent_count, run.failed_count) == (2, 9, 11)
    assert Recipient.objects.filter(campaign=campaign, status="pending").count() == 10
    assert sandbox.state.accepted_counts()["total"] == 9
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert (campaign.pending_count, campaign.sending_count) == (10, 0)
    audit = AuditLog.objects.get(action="batch.auto_stop")
    assert audit.details["reason"] == run.end_reason
    assert (audit.details["sent"], audit.details["failed"]) == (9, 11)


def test_exactly_half_failing_does_not_stop_the_run(sandbox, whatsapp) -> None:
    campaign = make_campaign()
    recipients = add_recipients(campaign, 20)
    fail_these(sandbox, recipients[::2])
    run = start(campaign, batch_size=20)

    drive(run_id=run.pk, client=whatsapp)

    run.refresh_from_db()
    assert (run.status, run.sent_count, run.failed_count) == (BatchRun.Status.COMPLETED, 10, 10)


def test_fewer_attempts_than_the_window_never_auto_stop(sandbox, whatsapp) -> None:
    campaign = make_campaign()
    recipients = add_recipients(campaign, 5)
    fail_these(sandbox, recipients)
    run = start(campaign, batch_size=5)

    drive(run_id=run.pk, client=whatsapp)

    run.refresh_from_db()
    assert (run.status, run.failed_count) == (BatchRun.Status.COMPLETED, 5)
    assert not AuditLog.objects.filter(action="batch.auto_stop").exists()
