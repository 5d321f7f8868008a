"""Suppressed numbers are never sent by any run: they are failed with the reason instead."""

from __future__ import annotations

import pytest

from campaigns import stats
from campaigns.models import BatchRun, BatchRunLog, Campaign, Suppression
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from campaigns.suppression import suppress
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def run_campaign(campaign: Campaign, whatsapp, batch_size: int = 5) -> BatchRun:  # type: ignore[no-untyped-def]
    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=batch_size,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )
    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.FINISHED
    run.refresh_from_db()
    return run


def test_a_suppressed_number_is_skipped_with_the_reason_and_never_sent(sandbox, whatsapp) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign()
    opted_out, marketing, manual, *others = add_recipients(campaign, 6)
    suppress(
        phone_number=opted_out.phone_number, reason="opt_out_word", source="webhook", detail="STOP"
    )
    suppress(phone_number=marketing.phone_number, reason="131050", source="webhook")
    suppress(
        phone_number=manual.phone_number, reason="manual", source="admin", detail="asked by phone"
    )

    run = run_campaign(campaign, whatsapp)

    accepted = sandbox.state.accepted_counts()["counts"]
    for skipped, reason in (
        (opted_out, "suppressed: opted out (STOP)"),
        (marketing, "suppressed: stopped marketing messages (131050)"),
        (manual, "suppressed: on the suppression list (added by an operator)"),
    ):
        skipped.refresh_from_db()
        assert (skipped.status, skipped.error_message, skipped.attempts) == ("failed", reason, 0)
        assert skipped.failed_at is not None and skipped.batch_run_id == run.pk
        assert skipped.phone_number not in accepted
        assert BatchRunLog.objects.filter(
            run=run, level="warning", message=f"Skipped {skipped.phone_number}: {reason}"
        ).exists()
    assert all(accepted[other.phone_number] == 1 for other in others)
    assert (run.status, run.sent_count, run.failed_count) == ("completed", 3, 3)
    campaign.refresh_from_db()
    assert (campaign.failed_count, campaign.sent_count, campaign.pending_count) == (3, 3, 0)
    assert stats.recount(campaign.pk)["failed"] == 3


def test_a_batch_made_only_of_suppressed_numbers_does_not_end_the_run_early(
    sandbox, whatsapp
) -> None:  # type: ignore[no-untyped-def]
    campaign = make_campaign()
    recipients = add_recipients(campaign, 4)
    for recipient in recipients[:2]:
        suppress(phone_number=recipient.phone_number, reason="manual", source="admin")

    run = run_campaign(campaign, whatsapp, batch_size=2)

    assert (run.sent_count, run.failed_count) == (2, 2)
    assert sandbox.state.accepted_counts()["total"] == 2


def test_error_131050_from_the_send_result_suppresses_the_number_for_every_later_run(
    sandbox, whatsapp
) -> None:  # type: ignore[no-untyped-def]
    first = make_campaign()
    (recipient,) = add_recipients(first, 1)
    sandbox.state.set_script(parse_script({"numbers": {recipient.phone_number: "131050"}}))

    run_campaign(first, whatsapp)

    entry = Suppression.objects.get()
    assert (entry.phone_number, entry.reason, entry.source) == (
        recipient.phone_number,
        Suppression.Reason.MARKETING_OPT_OUT,
        Suppression.Source.SEND_RESULT,
    )
    sandbox.state.set_script(parse_script({}))
    second = make_campaign(name="Second")
    (again,) = add_recipients(second, 1)

    run_campaign(second, whatsapp)

    again.refresh_from_db()
    assert (again.status, again.error_message) == (
        "failed",
        "suppressed: stopped marketing messages (131050)",
    )
    assert sandbox.state.accepted_counts()["total"] == 0
