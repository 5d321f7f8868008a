"""A permanent error fails that recipient at once and keeps Meta's error for support."""

from __future__ import annotations

import pytest

from campaigns.models import BatchRun, BatchRunLog, Campaign, Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_permanent_error_fails_the_recipient_after_one_attempt(sandbox, whatsapp) -> None:
    campaign = make_campaign()
    unreachable, *others = add_recipients(campaign, 3)
    sandbox.state.set_script(
        parse_script(
            {
                "numbers": {
                    unreachable.phone_number: {
                        "kind": "error",
                        "code": 131026,
                        "details": "Message Undeliverable: not on WhatsApp.",
                    }
                }
            }
        )
    )
    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=5,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )

    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.FINISHED

    unreachable.refresh_from_db()
    assert unreachable.status == Recipient.Status.FAILED
    assert unreachable.attempts == 1
    assert unreachable.error_code == 131026
    assert unreachable.error_details == "Message Undeliverable: not on WhatsApp."
    assert unreachable.error_message == "(#131026) Message undeliverable"
    assert unreachable.error_http_status == 400
    assert len(unreachable.error_fbtrace_id) >= 10
    assert unreachable.failed_at is not None
    assert unreachable.next_attempt_at is None
    assert unreachable.wamid is None
    # Exactly one request reached the API for it: no retry of a permanent failure.
    assert sandbox.state.stats()["rejected_by_code"] == {"131026": 1}
    assert unreachable.phone_number not in sandbox.state.accepted_counts()["counts"]

    for other in others:
        other.refresh_from_db()
        assert (other.status, other.attempts) == (Recipient.Status.SENT, 1)
    run.refresh_from_db()
    assert (run.status, run.sent_count, run.failed_count, run.retried_count) == (
        BatchRun.Status.COMPLETED,
        2,
        1,
        0,
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert (campaign.sent_count, campaign.failed_count, campaign.pending_count) == (2, 1, 0)
    line = BatchRunLog.objects.get(run=run, level=BatchRunLog.Level.ERROR)
    assert unreachable.phone_number in line.message and "131026" in line.message
