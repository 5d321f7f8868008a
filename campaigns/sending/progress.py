"""A cheap snapshot of a run's progress: reads the run row, the campaign counters and the
last batch summaries — never counts recipient rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from campaigns.models import BatchRun, BatchRunLog

RATE_WINDOW = timedelta(minutes=2)


@dataclass(frozen=True)
class Progress:
    run_id: int
    status: str
    total: int
    sent: int
    failed: int
    retried: int
    in_doubt: int
    pending: int
    processed: int
    percent: float
    batches_done: int
    batches_total: int
    rate_per_minute: float | None
    eta_seconds: float | None
    elapsed_seconds: float | None
    current_delay_seconds: float
    worker_stale: bool
    heartbeat_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.status in BatchRun.ACTIVE_STATUSES


def snapshot(run: BatchRun) -> Progress:
    """Progress of ``run``; ``run.campaign`` should be fresh (its counters are read).

    "Pending" is what the campaign still has to send (pending + sending) for every run that
    did not complete, so a stopped run reads "batch 6 of 16", not "6 of 6".
    """
    now = timezone.now()
    processed = run.sent_count + run.failed_count + run.in_doubt_count
    # Only a completed run left nothing behind; what a stopped or failed run did not send is
    # still pending in its campaign (a new run continues with it), so it still counts here.
    pending = (
        0
        if run.status == BatchRun.Status.COMPLETED
        else run.campaign.pending_count + run.campaign.sending_count
    )
    total = max(run.total_count, processed + pending)
    percent = round(100.0 * processed / total, 1) if total else 100.0
    remaining_batches = math.ceil(pending / run.batch_size) if pending else 0
    delay = float(run.current_delay_seconds or run.delay_seconds)

    window_start = now - RATE_WINDOW
    recent = list(
        BatchRunLog.objects.filter(
            run=run, batch_seconds__isnull=False, created_at__gte=window_start
        )
        .order_by("-id")
        .values_list("batch_sent", "batch_failed")[:500]
    )
    rate = None
    if recent and run.started_at:
        span = min(
            (now - max(run.started_at, window_start)).total_seconds(), RATE_WINDOW.total_seconds()
        )
        done = sum((s or 0) + (f or 0) for s, f in recent)
        rate = round(60.0 * done / span, 1) if span > 0 else None

    eta = None
    if run.is_active and remaining_batches:
        batch_time = run.avg_batch_seconds or 0.0
        eta = remaining_batches * batch_time + max(remaining_batches - 1, 0) * delay
        if run.next_batch_at and run.next_batch_at > now:
            eta += (run.next_batch_at - now).total_seconds()
    elif run.is_active:
        eta = 0.0

    end = run.finished_at or now
    elapsed = (end - run.started_at).total_seconds() if run.started_at else None
    stale = bool(
        run.status in (BatchRun.Status.RUNNING, BatchRun.Status.STOPPING)
        and (
            run.heartbeat_at is None
            or (now - run.heartbeat_at).total_seconds() > settings.SENDING_WORKER_STALE_SECONDS
        )
    ) or bool(
        run.status == BatchRun.Status.QUEUED
        and (now - run.created_at).total_seconds() > settings.SENDING_WORKER_STALE_SECONDS
    )
    return Progress(
        run_id=run.pk,
        status=run.status,
        total=total,
        sent=run.sent_count,
        failed=run.failed_count,
        retried=run.retried_count,
        in_doubt=run.in_doubt_count,
        pending=pending,
        processed=processed,
        percent=percent,
        batches_done=run.batches_done,
        batches_total=run.batches_done + remaining_batches,
        rate_per_minute=rate,
        eta_seconds=eta,
        elapsed_seconds=elapsed,
        current_delay_seconds=delay,
        worker_stale=stale,
        heartbeat_at=run.heartbeat_at,
    )
