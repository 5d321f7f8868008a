"""Two qcluster processes (two workers each) share runs without ever sending twice."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django_q.models import Task

from campaigns.models import BatchRun
from campaigns.sending.driver import DriveResult
from campaigns.sending.runs import enqueue_driver
from tests.e2e.processes import Cluster, Processes, wait_for
from tests.e2e.scenario import (
    Stopwatch,
    assert_sent_exactly_once,
    campaign_with,
    run_status,
    start_queued_run,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="end-to-end tests run on PostgreSQL"),
]

# Extra drive tasks per run, as a broker that re-delivers would hand out.
DUPLICATE_TASKS = 3


def drive_results(run_id: int) -> list[str]:
    tasks = Task.objects.filter(func="campaigns.tasks.drive_run")
    return [task.result for task in tasks if tuple(task.args or ()) == (run_id,)]


def test_two_clusters_drive_two_campaigns_at_once_and_send_each_recipient_once(
    processes: Processes,
) -> None:
    sandbox = processes.sandbox()
    # One-second slices: every batch is a new task, taken by whichever cluster polls first.
    clusters = [processes.cluster(workers=2, SENDING_SLICE_SECONDS="1") for _ in range(2)]
    campaigns = [campaign_with(60, first_number=0), campaign_with(60, first_number=1000)]

    clock = Stopwatch()
    runs = [start_queued_run(campaign, batch_size=5, delay_seconds=1) for campaign in campaigns]
    for run in runs:
        for _ in range(DUPLICATE_TASKS):
            enqueue_driver(run.pk)

    # Which cluster held each run's lease, sampled while the runs go on.
    drivers: dict[int, set[int]] = {run.pk: set() for run in runs}
    owners: dict[int, set[str]] = {run.pk: set() for run in runs}
    deadline = time.monotonic() + 60
    while any(run_status(run.pk) in BatchRun.ACTIVE_STATUSES for run in runs):
        assert time.monotonic() < deadline, "the runs did not finish within 60 s"
        for run_id, owner in BatchRun.objects.filter(pk__in=drivers).values_list(
            "pk", "lease_owner"
        ):
            if owner:
                owners[run_id].add(owner)
                drivers[run_id].update(_cluster_of(int(owner.split(":")[1]), clusters))
        time.sleep(0.05)
    print(f"2 × 60 recipients on 2 clusters: done in {clock.seconds():.1f} s")

    for run, campaign in zip(runs, campaigns, strict=True):
        run.refresh_from_db()
        assert (run.status, run.sent_count, run.batches_done) == ("completed", 60, 12)
        ground = assert_sent_exactly_once(sandbox, campaign)
        assert ground.by_status == {"sent": 60}
        print(f"run {run.pk}: {len(owners[run.pk])} slices seen, clusters {drivers[run.pk]}")
        # Each run hands over after every batch; both clusters took part in driving it.
        assert len(owners[run.pk]) >= 6
        assert drivers[run.pk] == {0, 1}
        # Every duplicate task found the run owned (or already finished) and did nothing.
        results = wait_for(
            f"the monitor to save the finishing and the duplicate tasks of run {run.pk}",
            lambda run_id=run.pk: (
                (found := drive_results(run_id)).count(DriveResult.NOT_OWNER) >= DUPLICATE_TASKS
                and DriveResult.FINISHED in found
                and found
            ),
            timeout=15,
        )
        time.sleep(1)  # a second FINISHED, were there one, would be saved by now
        assert drive_results(run.pk).count(DriveResult.FINISHED) == 1, results
    assert sum(sandbox.accepted_counts().values()) == 120


def _cluster_of(pid: int, clusters: list[Cluster]) -> list[int]:
    return [index for index, cluster in enumerate(clusters) if cluster.owns(pid)]
