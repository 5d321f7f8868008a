"""The engine sends every pending recipient exactly once, batch by batch."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from campaigns import stats
from campaigns.models import AuditLog, BatchRun, Campaign, Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def start(campaign: Campaign, *, batch_size: int = 5, max_retries: int = 3) -> BatchRun:
    return start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=batch_size,
        delay_seconds=1,
        max_retries=max_retries,
        enqueue=False,
    )


def test_every_pending_recipient_is_accepted_exactly_once(sandbox, whatsapp) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 12)
    add_recipients(campaign, 3, status="sent", start=100)
    add_recipients(campaign, 2, status="failed", start=200)
    run = start(campaign, batch_size=5)

    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.FINISHED

    counts = sandbox.state.accepted_counts()
    pending_phones = {f"+62812{i:08d}" for i in range(12)}
    assert set(counts["counts"]) == pending_phones
    assert set(counts["counts"].values()) == {1}
    run.refresh_from_db()
    assert (run.status, run.sent_count, run.failed_count, run.batches_done) == (
        "completed",
        12,
        0,
        3,
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.sent_count == 15 and campaign.failed_count == 2
    assert stats.recount(campaign.pk)["sent"] == 15
    sent = Recipient.objects.filter(campaign=campaign, status="sent", wamid__isnull=False)
    assert sent.count() == 15 - 3  # the three already sent kept no wamid in this fixture
    assert set(
        Recipient.objects.filter(phone_number__in=pending_phones).values_list("attempts", flat=True)
    ) == {1}


def test_start_and_completion_are_audited(sandbox, whatsapp) -> None:
    user = User.objects.create_user("starter")
    campaign = make_campaign()
    add_recipients(campaign, 2)
    run = start_run(
        campaign_id=campaign.pk,
        actor=user,
        batch_size=10,
        delay_seconds=1,
        max_retries=2,
        enqueue=False,
    )
    drive(run_id=run.pk, client=whatsapp)

    actions = list(AuditLog.objects.order_by("id").values_list("action", "actor_username"))
    assert actions == [("batch.start", "starter"), ("batch.complete", "")]
    completion = AuditLog.objects.get(action="batch.complete")
    assert completion.details["sent"] == 2
    assert completion.details["batch_size"] == 10
