"""A real qcluster drives a run started in a transaction, slice after slice, to completion."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_q.models import Task

from campaigns.models import BatchRun, Campaign, Recipient
from campaigns.sending.driver import DriveResult
from tests.e2e.processes import Processes, wait_for
from tests.e2e.scenario import (
    Stopwatch,
    assert_sent_exactly_once,
    campaign_with,
    start_queued_run,
    wait_until_finished,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="end-to-end tests run on PostgreSQL"),
]


def drive_results(run_id: int) -> list[str]:
    """The results of the finished ``drive_run`` tasks of one run (saved by the monitor)."""
    tasks = Task.objects.filter(func="campaigns.tasks.drive_run").order_by("stopped")
    return [task.result for task in tasks if tuple(task.args or ()) == (run_id,)]


def test_a_run_started_in_a_transaction_is_driven_to_completion_by_the_cluster(
    processes: Processes,
) -> None:
    sandbox = processes.sandbox()
    processes.cluster(workers=2)
    campaign = campaign_with(30)

    clock = Stopwatch()
    run = start_queued_run(campaign, batch_size=10, delay_seconds=1)
    run = wait_until_finished(run.pk, timeout=30)
    print(f"30 recipients, batch 10, delay 1 s: done in {clock.seconds():.1f} s")

    assert (run.status, run.sent_count, run.failed_count, run.batches_done) == (
        BatchRun.Status.COMPLETED,
        30,
        0,
        3,
    )
    ground = assert_sent_exactly_once(sandbox, campaign)
    assert ground.by_status == {"sent": 30}
    assert sum(sandbox.accepted_counts().values()) == 30
    # Each row holds the wamid WhatsApp (the sandbox) gave that very recipient.
    accepted = {m["to"]: m["wamid"] for m in sandbox.get("accepted?limit=100")["messages"]}
    stored = dict(Recipient.objects.filter(campaign=campaign).values_list("phone_number", "wamid"))
    assert stored == accepted
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    # Two pauses of one second separate the three batches.
    assert clock.seconds() >= 2


def test_a_run_longer_than_a_slice_continues_as_continuation_tasks(
    processes: Processes,
) -> None:
    sandbox = processes.sandbox()
    processes.cluster(workers=2, SENDING_SLICE_SECONDS="2")
    campaign = campaign_with(40)

    clock = Stopwatch()
    run = start_queued_run(campaign, batch_size=5, delay_seconds=1)
    run = wait_until_finished(run.pk, timeout=40)
    print(f"8 batches with 2 s slices: done in {clock.seconds():.1f} s")

    assert (run.status, run.sent_count, run.batches_done) == (BatchRun.Status.COMPLETED, 40, 8)
    assert_sent_exactly_once(sandbox, campaign)
    results = wait_for(
        "the monitor to save the last drive task",
        lambda: (found := drive_results(run.pk)) and found[-1] == DriveResult.FINISHED and found,
        timeout=10,
    )
    print(f"drive_run task results: {results}")
    # Seven one-second pauses do not fit in one 2 s slice: the run was handed over repeatedly.
    assert results.count(DriveResult.HANDED_OVER) >= 2
    assert set(results) == {DriveResult.HANDED_OVER, DriveResult.FINISHED}
