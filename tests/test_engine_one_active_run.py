"""One active run per campaign, and clear refusals when a run cannot start."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from campaigns.models import BatchRun, Campaign
from campaigns.sending.exceptions import (
    BatchRunError,
    CampaignNotFound,
    CampaignNotRunnable,
    InvalidBatchConfiguration,
    NoPendingRecipients,
    RunAlreadyActive,
)
from campaigns.sending.runs import start_run
from tests.factories import add_recipients, make_campaign


def start(campaign_id: int, **config: int) -> BatchRun:
    options = {"batch_size": 5, "delay_seconds": 1, "max_retries": 3, **config}
    return start_run(campaign_id=campaign_id, actor=None, enqueue=False, **options)


@pytest.mark.django_db
@pytest.mark.parametrize("active", BatchRun.ACTIVE_STATUSES)
def test_a_second_start_is_refused_while_a_run_is_active(active: str) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 3)
    run = start(campaign.pk)
    BatchRun.objects.filter(pk=run.pk).update(status=active)

    with pytest.raises(RunAlreadyActive) as refused:
        start(campaign.pk)

    assert str(refused.value) == "A batch run is already active for this campaign"
    assert BatchRun.objects.filter(campaign=campaign).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("ended", ["stopped", "completed", "failed"])
def test_an_ended_run_does_not_block_the_next_start(ended: str) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 3)
    BatchRun.objects.filter(pk=start(campaign.pk).pk).update(status=ended)

    second = start(campaign.pk)

    assert second.status == BatchRun.Status.QUEUED
    assert BatchRun.objects.filter(campaign=campaign).count() == 2


@pytest.mark.django_db(transaction=True)
def test_simultaneous_starts_create_exactly_one_run() -> None:
    campaign = make_campaign()
    add_recipients(campaign, 3)
    barrier = threading.Barrier(4)
    outcomes: list[object] = []

    def attempt() -> None:
        try:
            barrier.wait()
            outcomes.append(start(campaign.pk))
        except BatchRunError as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sum(isinstance(o, BatchRun) for o in outcomes) == 1
    assert sum(isinstance(o, RunAlreadyActive) for o in outcomes) == 3
    assert BatchRun.objects.filter(campaign=campaign).count() == 1


@pytest.mark.django_db
def test_an_unknown_campaign_is_reported_as_not_found() -> None:
    with pytest.raises(CampaignNotFound) as refused:
        start(987654)
    assert str(refused.value) == "Campaign not found"


@pytest.mark.django_db
def test_a_campaign_without_pending_recipients_cannot_start() -> None:
    campaign = make_campaign()
    add_recipients(campaign, 2, status="sent")
    add_recipients(campaign, 1, status="failed", start=10)

    with pytest.raises(NoPendingRecipients) as refused:
        start(campaign.pk)

    assert str(refused.value) == "No pending recipients — all messages already sent"
    assert not BatchRun.objects.exists()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


@pytest.mark.django_db
def test_a_completed_campaign_with_nothing_pending_says_so() -> None:
    campaign = make_campaign(status=Campaign.Status.COMPLETED)
    add_recipients(campaign, 2, status="sent")

    with pytest.raises(NoPendingRecipients):
        start(campaign.pk)


@pytest.mark.django_db
def test_a_cancelled_campaign_cannot_start() -> None:
    campaign = make_campaign(status=Campaign.Status.CANCELLED)
    add_recipients(campaign, 2)

    with pytest.raises(CampaignNotRunnable) as refused:
        start(campaign.pk)

    assert "Cancelled" in str(refused.value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"batch_size": 0}, "Batch size must be between 1 and 50 (got 0)."),
        ({"batch_size": 51}, "Batch size must be between 1 and 50 (got 51)."),
        ({"delay_seconds": 0}, "Delay between batches must be between 1 and 60 (got 0)."),
        ({"delay_seconds": 61}, "Delay between batches must be between 1 and 60 (got 61)."),
        ({"max_retries": 0}, "Max retries must be between 1 and 5 (got 0)."),
        ({"max_retries": 6}, "Max retries must be between 1 and 5 (got 6)."),
    ],
)
def test_an_out_of_range_configuration_is_refused(config: dict[str, int], message: str) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 1)

    with pytest.raises(InvalidBatchConfiguration) as refused:
        start(campaign.pk, **config)

    assert str(refused.value) == message
    assert not BatchRun.objects.exists()
