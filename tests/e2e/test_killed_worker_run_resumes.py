"""kill -9 of the worker (or the whole cluster) mid-batch: the run resumes by itself.

Recipients in flight at the kill become ``in_doubt``; nothing is accepted twice.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

import pytest
from django.conf import settings

from campaigns.models import BatchRun, BatchRunLog, Recipient
from tests.e2e.processes import Cluster, Processes, Sandbox, wait_for
from tests.e2e.scenario import (
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

RECIPIENTS, BATCH_SIZE = 100, 10
# Long enough that a batch is reliably caught in flight.
SANDBOX_LATENCY_MS = 300
# The promise: a run resumes within 60 s of a worker being available.
RESUME_WITHIN_SECONDS = 60


@dataclass(frozen=True)
class Kill:
    owner: str
    pid: int
    in_flight: frozenset[int]
    batches_done: int
    at: float


def wait_for_batch_in_flight(run_id: int, *, after_batches: int) -> tuple[str, frozenset[int]]:
    """The lease owner and the recipients it is sending right now, once a batch is out."""
    wait_for(
        f"{after_batches} batches of run {run_id}",
        lambda: BatchRun.objects.get(pk=run_id).batches_done >= after_batches,
        timeout=30,
    )

    def in_flight() -> tuple[str, frozenset[int]] | None:
        owner = BatchRun.objects.values_list("lease_owner", flat=True).get(pk=run_id)
        sending = Recipient.objects.filter(batch_run_id=run_id, status=Recipient.Status.SENDING)
        rows = frozenset(sending.values_list("pk", flat=True))
        return (owner, rows) if owner and rows else None

    return wait_for("a batch in flight", in_flight, timeout=10, interval=0.01)


def pid_of(owner: str) -> int:
    return int(owner.split(":")[1])


def wait_for_resume(run_id: int, kill: Kill) -> tuple[float, float]:
    """Seconds from the kill until a new owner held the lease and until its first batch."""

    def new_owner() -> bool:
        owner = BatchRun.objects.values_list("lease_owner", flat=True).get(pk=run_id)
        return bool(owner) and owner != kill.owner

    wait_for("a new worker to take the run", new_owner, timeout=RESUME_WITHIN_SECONDS)
    taken = time.monotonic() - kill.at
    wait_for(
        "the first batch after the kill",
        lambda: BatchRun.objects.get(pk=run_id).batches_done > kill.batches_done,
        timeout=RESUME_WITHIN_SECONDS,
    )
    return taken, time.monotonic() - kill.at


def check_outcome(run_id: int, kill: Kill, sandbox: Sandbox) -> None:
    run = wait_until_finished(run_id, timeout=60)
    assert run.status == BatchRun.Status.COMPLETED
    in_doubt = set(
        Recipient.objects.filter(campaign_id=run.campaign_id, status="in_doubt").values_list(
            "pk", flat=True
        )
    )
    print(f"in flight at the kill: {len(kill.in_flight)}, in doubt now: {len(in_doubt)}")
    # Only what was in flight can be in doubt, never more than a batch.
    assert in_doubt <= kill.in_flight
    assert len(in_doubt) <= BATCH_SIZE
    assert run.in_doubt_count == len(in_doubt)
    assert run.sent_count + len(in_doubt) == RECIPIENTS
    if in_doubt:
        assert BatchRunLog.objects.filter(run_id=run_id, message__contains="in doubt").exists()
    ground = assert_sent_exactly_once(sandbox, run.campaign)
    assert ground.by_status["sent"] + ground.by_status["in_doubt"] == RECIPIENTS


def test_a_run_resumes_after_its_worker_is_killed_and_respawned(processes: Processes) -> None:
    sandbox = processes.sandbox(latency_ms=SANDBOX_LATENCY_MS)
    cluster = processes.cluster(workers=2)
    run = start_queued_run(campaign_with(RECIPIENTS), batch_size=BATCH_SIZE, delay_seconds=1)

    owner, in_flight = wait_for_batch_in_flight(run.pk, after_batches=2)
    pid = pid_of(owner)
    assert cluster.owns(pid), f"the run's driver {owner} is not a worker of the cluster"
    batches = BatchRun.objects.get(pk=run.pk).batches_done
    os.kill(pid, signal.SIGKILL)
    kill = Kill(
        owner=owner, pid=pid, in_flight=in_flight, batches_done=batches, at=time.monotonic()
    )

    taken, batch = wait_for_resume(run.pk, kill)
    print(f"worker kill -9: lease retaken after {taken:.2f} s, next batch after {batch:.2f} s")
    check_outcome(run.pk, kill, sandbox)
    # The cluster replaced the dead worker; the new driver was one of its workers.
    assert pid not in cluster.worker_pids()
    assert len(cluster.worker_pids()) == 2


def test_a_run_resumes_when_a_new_cluster_starts_after_the_whole_cluster_is_killed(
    processes: Processes,
) -> None:
    sandbox = processes.sandbox(latency_ms=SANDBOX_LATENCY_MS)
    first = processes.cluster(workers=2)
    run = start_queued_run(campaign_with(RECIPIENTS), batch_size=BATCH_SIZE, delay_seconds=1)

    owner, in_flight = wait_for_batch_in_flight(run.pk, after_batches=2)
    assert first.owns(pid_of(owner))
    batches = BatchRun.objects.get(pk=run.pk).batches_done
    first.kill()
    kill = Kill(
        owner=owner,
        pid=pid_of(owner),
        in_flight=in_flight,
        batches_done=batches,
        at=time.monotonic(),
    )
    wait_for("the killed cluster to be gone", lambda: not first.owns(kill.pid), timeout=5)

    second: Cluster = processes.cluster(workers=2)
    started = time.monotonic() - kill.at
    taken, batch = wait_for_resume(run.pk, kill)
    print(
        f"cluster kill -9: new cluster ready {started:.2f} s after the kill; lease retaken "
        f"{taken - started:.2f} s and next batch {batch - started:.2f} s after it was ready"
    )
    new_owner = BatchRun.objects.values_list("lease_owner", flat=True).get(pk=run.pk)
    assert not new_owner or second.owns(pid_of(new_owner))
    check_outcome(run.pk, kill, sandbox)
