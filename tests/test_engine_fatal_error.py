"""A fatal code (token, permissions, account, template) stops the run at once as failed."""

from __future__ import annotations

import pytest

from campaigns.models import AuditLog, BatchRun, Campaign, Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_expired_token_fails_the_run_and_leaves_the_rest_pending(sandbox, whatsapp) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 9)
    # The first batch goes through, then the token "expires" for every request.
    sandbox.state.set_script(parse_script({"all": [{"kind": "ok", "times": 3}, "190"]}))
    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=3,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )

    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.FINISHED

    run.refresh_from_db()
    assert run.status == BatchRun.Status.FAILED
    assert "190" in run.end_reason
    assert "check the WhatsApp API configuration" in run.end_reason
    assert run.end_reason.startswith("API Error:")
    assert (run.sent_count, run.failed_count, run.batches_done) == (3, 0, 2)
    # Stopped at once: nothing was attempted after the batch that met the fatal error.
    assert sandbox.state.stats()["rejected_by_code"] == {"190": 3}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FAILED
    assert (campaign.sent_count, campaign.pending_count, campaign.sending_count) == (3, 6, 0)
    assert campaign.failed_count == 0
    unsent = Recipient.objects.filter(campaign=campaign).exclude(status=Recipient.Status.SENT)
    assert set(unsent.values_list("status", flat=True)) == {Recipient.Status.PENDING}
    hit = unsent.filter(error_code=190)
    assert hit.count() == 3 and set(hit.values_list("error_http_status", flat=True)) == {401}
    failure = AuditLog.objects.get(action="batch.fail")
    assert failure.details["reason"] == run.end_reason
    assert failure.details["campaign_status"] == Campaign.Status.FAILED


def test_a_failed_campaign_can_be_sent_again_once_the_configuration_is_fixed(
    sandbox, whatsapp
) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 4)
    sandbox.state.set_script(parse_script({"all": "190"}))
    first = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=5,
        delay_seconds=1,
        max_retries=1,
        enqueue=False,
    )
    drive(run_id=first.pk, client=whatsapp)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FAILED and campaign.pending_count == 4

    sandbox.state.set_script(parse_script({}))
    second = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=5,
        delay_seconds=1,
        max_retries=1,
        enqueue=False,
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert drive(run_id=second.pk, client=whatsapp) == DriveResult.FINISHED

    campaign.refresh_from_db()
    assert (campaign.status, campaign.sent_count) == (Campaign.Status.COMPLETED, 4)
    assert set(sandbox.state.accepted_counts()["counts"].values()) == {1}
