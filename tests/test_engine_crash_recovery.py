"""A run survives its worker: in-flight rows become in doubt, orphaned runs are re-enqueued."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from campaigns import stats
from campaigns.models import BatchRun, BatchRunLog, Campaign, Recipient
from campaigns.sending import driver, lease, runs
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.recording import claim_batch, record_batch
from campaigns.sending.runs import start_run
from campaigns.whatsapp.client import SendResult
from campaigns.whatsapp.errors import Outcome
from tests.factories import add_recipients, make_campaign

DEAD_WORKER = "worker-host-that-died:4242:0badf00d"


def start(campaign: Campaign, *, batch_size: int = 3) -> BatchRun:
    return start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=batch_size,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )


def claimed_by_a_worker_that_dies(run: BatchRun, *, count: int) -> list[int]:
    """What a worker killed mid-batch leaves behind: rows marked sending, a lease that lapses."""
    assert lease.acquire(run_id=run.pk, owner=DEAD_WORKER)
    BatchRun.objects.filter(pk=run.pk).update(
        status=BatchRun.Status.RUNNING, started_at=timezone.now()
    )
    claimed = claim_batch(
        run_id=run.pk, campaign_id=run.campaign_id, owner=DEAD_WORKER, limit=count
    )
    assert len(claimed) == count
    return [c.pk for c in claimed]


def expire_lease(run: BatchRun) -> None:
    BatchRun.objects.filter(pk=run.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db(transaction=True)
def test_recipients_in_flight_at_a_crash_become_in_doubt_and_the_rest_are_sent(
    sandbox, whatsapp
) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 8)
    run = start(campaign)
    in_flight = claimed_by_a_worker_that_dies(run, count=3)
    expire_lease(run)

    assert drive(run_id=run.pk, client=whatsapp, owner="new-worker:1:1") == DriveResult.FINISHED

    orphans = Recipient.objects.filter(pk__in=in_flight)
    assert set(orphans.values_list("status", flat=True)) == {Recipient.Status.IN_DOUBT}
    assert set(orphans.values_list("error_message", flat=True)) == {"worker stopped mid-send"}
    counts = sandbox.state.accepted_counts()["counts"]
    assert not set(orphans.values_list("phone_number", flat=True)) & set(counts)
    assert len(counts) == 5 and set(counts.values()) == {1}
    run.refresh_from_db()
    assert (run.status, run.sent_count, run.in_doubt_count) == ("completed", 5, 3)
    campaign.refresh_from_db()
    assert (campaign.in_doubt_count, campaign.sent_count, campaign.sending_count) == (3, 5, 0)
    assert stats.recount(campaign.pk)["in_doubt"] == 3
    assert BatchRunLog.objects.filter(
        run=run, level="warning", message__startswith="3 recipient(s) were in flight"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_a_second_driver_stays_out_while_the_lease_is_alive(sandbox, whatsapp) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 4)
    run = start(campaign)
    in_flight = claimed_by_a_worker_that_dies(run, count=3)

    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.NOT_OWNER

    assert set(Recipient.objects.filter(pk__in=in_flight).values_list("status", flat=True)) == {
        Recipient.Status.SENDING
    }
    assert sandbox.state.accepted_counts()["total"] == 0


@pytest.mark.django_db
def test_late_results_of_a_replaced_worker_change_nothing() -> None:
    campaign = make_campaign()
    add_recipients(campaign, 4)
    run = start(campaign)
    assert lease.acquire(run_id=run.pk, owner=DEAD_WORKER)
    BatchRun.objects.filter(pk=run.pk).update(status=BatchRun.Status.RUNNING, batches_done=4)
    claimed = claim_batch(run_id=run.pk, campaign_id=campaign.pk, owner=DEAD_WORKER, limit=2)
    expire_lease(run)
    assert lease.acquire(run_id=run.pk, owner="new-worker:1:1")

    # The stalled worker wakes up and reports what it sent; the run is no longer its own.
    assert not lease.renew(run_id=run.pk, owner=DEAD_WORKER)
    assert claim_batch(run_id=run.pk, campaign_id=campaign.pk, owner=DEAD_WORKER, limit=2) == []
    fatal = SendResult(outcome=Outcome.FATAL, http_status=401, error_code=190)
    outcome = record_batch(
        run_id=run.pk,
        campaign_id=campaign.pk,
        batch_number=1,
        max_retries=3,
        results=[
            (claimed[0], SendResult(outcome=Outcome.SENT, wamid="wamid.X")),
            (claimed[1], fatal),
        ],
        batch_seconds=0.2,
    )

    assert outcome.sent == 0 and outcome.fatal is None and outcome.attempt_failures == []
    assert set(
        Recipient.objects.filter(pk__in=[c.pk for c in claimed]).values_list("status", flat=True)
    ) == {Recipient.Status.IN_DOUBT}
    run.refresh_from_db()
    assert (run.sent_count, run.in_doubt_count, run.batches_done) == (0, 2, 4)
    assert not BatchRunLog.objects.filter(run=run, batch_seconds__isnull=False).exists()
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.in_doubt_count, campaign.pending_count) == (0, 2, 2)


@pytest.mark.django_db(transaction=True)
def test_a_run_driven_in_short_slices_hands_over_and_keeps_its_pace(
    sandbox, whatsapp, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueued: list[int] = []
    monkeypatch.setattr(driver, "enqueue_driver", enqueued.append)
    campaign = make_campaign()
    add_recipients(campaign, 6)
    run = start(campaign, batch_size=2)

    results = []
    while not results or results[-1] == DriveResult.HANDED_OVER:
        results.append(drive(run_id=run.pk, client=whatsapp, slice_seconds=0.4))
        if results[-1] == DriveResult.HANDED_OVER:
            assert BatchRun.objects.get(pk=run.pk).lease_owner == ""

    assert results[-1] == DriveResult.FINISHED
    assert len(results) > 3 and set(results[:-1]) == {DriveResult.HANDED_OVER}
    assert enqueued == [run.pk] * (len(results) - 1)
    counts = sandbox.state.accepted_counts()
    assert (counts["total"], counts["recipients"]) == (6, 6)
    # The pause between batches survived the hand-overs.
    times = list(
        BatchRunLog.objects.filter(run=run, batch_seconds__isnull=False)
        .order_by("batch_number")
        .values_list("created_at", flat=True)
    )
    assert len(times) == 3
    assert all((b - a).total_seconds() >= 0.95 for a, b in pairwise(times))


def dead_local_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.django_db
def test_only_orphaned_runs_are_re_enqueued(monkeypatch: pytest.MonkeyPatch) -> None:
    enqueued: list[int] = []
    monkeypatch.setattr(lease, "enqueue_driver", enqueued.append)
    monkeypatch.setattr(runs, "enqueue_driver", enqueued.append)
    now = timezone.now()
    host = socket.gethostname()
    long_ago = now - timedelta(minutes=5)

    def run_with(status: str = BatchRun.Status.RUNNING, **fields: object) -> int:
        campaign = make_campaign()
        run = BatchRun.objects.create(campaign=campaign, status=status, heartbeat_at=now)
        BatchRun.objects.filter(pk=run.pk).update(**fields)
        return run.pk

    expired = run_with(lease_owner="other-host:1:aa", lease_expires_at=now - timedelta(seconds=1))
    dead_pid = run_with(
        lease_owner=f"{host}:{dead_local_pid()}:bb", lease_expires_at=now + timedelta(seconds=10)
    )
    stale = run_with(lease_owner="", heartbeat_at=long_ago)
    lost_in_queue = run_with(
        status=BatchRun.Status.QUEUED, lease_owner="", heartbeat_at=None, created_at=long_ago
    )
    stopping_unowned = run_with(
        status=BatchRun.Status.STOPPING, lease_owner="", heartbeat_at=long_ago
    )
    healthy = run_with(
        lease_owner=f"{host}:{os.getpid()}:cc", lease_expires_at=now + timedelta(seconds=10)
    )
    alive_elsewhere = run_with(
        lease_owner="other-host:2:dd", lease_expires_at=now + timedelta(seconds=10)
    )
    just_queued = run_with(status=BatchRun.Status.QUEUED, lease_owner="", heartbeat_at=None)
    handed_over = run_with(lease_owner="", heartbeat_at=now)
    finished = run_with(
        status=BatchRun.Status.COMPLETED,
        lease_owner="other-host:3:ee",
        lease_expires_at=long_ago,
        heartbeat_at=long_ago,
    )

    recovered = lease.recover_orphaned_runs()

    orphans = [expired, dead_pid, stale, lost_in_queue, stopping_unowned]
    assert sorted(recovered) == sorted(orphans)
    assert sorted(enqueued) == sorted(orphans)
    assert not {healthy, alive_elsewhere, just_queued, handed_over, finished} & set(enqueued)
    # The dead local owner's lease is expired at once, so the next driver need not wait.
    assert BatchRun.objects.get(pk=dead_pid).lease_expires_at < timezone.now()
    assert lease.acquire(run_id=dead_pid, owner="new-worker:1:1")
    assert not lease.acquire(run_id=healthy, owner="new-worker:1:1")
