"""The loop that drives one run for one time slice: claim, send, record, pace, repeat.

One call of :func:`drive` holds the run's lease for at most ``slice_seconds`` (plus the batch
in hand), then hands over to a continuation task, so no django-q2 task outlives its timeout.
A watcher thread renews the lease and looks for a stop request several times a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import BatchRun, BatchRunLog, Campaign, Recipient
from campaigns.sending import lease
from campaigns.sending.recording import ClaimedRecipient, claim_batch, record_batch
from campaigns.sending.runs import enqueue_driver, finish_run, log
from campaigns.sending.throttle import reserve_slots
from campaigns.whatsapp.client import SendResult, WhatsAppClient, merge_parameters
from campaigns.whatsapp.errors import Outcome

logger = logging.getLogger(__name__)

# Longest single sleep while waiting for retries that are not yet due.
MAX_IDLE_WAIT_SECONDS = 5.0


class DriveResult:
    NOT_OWNER = "not_owner"
    HANDED_OVER = "handed_over"
    FINISHED = "finished"
    LEASE_LOST = "lease_lost"


@dataclass
class _Template:
    name: str
    language: str
    defaults: list[dict[str, Any]]
    named: bool


class _Watcher(threading.Thread):
    """Renews the lease and notices stop requests while the main loop sends or sleeps."""

    def __init__(self, *, run_id: int, owner: str) -> None:
        super().__init__(name=f"batch-run-{run_id}-watcher", daemon=True)
        self.run_id = run_id
        self.owner = owner
        self.stop_requested = threading.Event()
        self.lease_lost = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        last_beat = 0.0
        try:
            while not self.done.is_set():
                now = time.monotonic()
                if now - last_beat >= settings.SENDING_HEARTBEAT_SECONDS:
                    if not lease.renew(run_id=self.run_id, owner=self.owner):
                        self.lease_lost.set()
                        self.stop_requested.set()
                        return
                    last_beat = now
                status = (
                    BatchRun.objects.filter(pk=self.run_id).values_list("status", flat=True).first()
                )
                if status != BatchRun.Status.RUNNING:
                    self.stop_requested.set()
                self.done.wait(settings.SENDING_STOP_POLL_SECONDS)
        except Exception:
            logger.exception("watcher of batch run %s failed", self.run_id)
            self.stop_requested.set()
        finally:
            connection.close()


def drive(
    *,
    run_id: int,
    client: WhatsAppClient | None = None,
    slice_seconds: float | None = None,
    owner: str | None = None,
    on_batch: Callable[[BatchRun], None] | None = None,
    continue_in_queue: bool = True,
) -> str:
    """Drive the run until it ends or its time slice is used up; returns a DriveResult.

    At the end of a slice the lease is released and, with ``continue_in_queue``, a
    django-q2 continuation task is queued to take it.
    """
    owner = owner or lease.new_owner()
    if not lease.acquire(run_id=run_id, owner=owner):
        return DriveResult.NOT_OWNER
    run = BatchRun.objects.select_related("campaign").get(pk=run_id)
    if run.status == BatchRun.Status.QUEUED:
        BatchRun.objects.filter(pk=run_id, status=BatchRun.Status.QUEUED).update(
            status=BatchRun.Status.RUNNING, started_at=timezone.now()
        )
        log(run_id, _("Run started"))
        run.refresh_from_db()
    if run.status == BatchRun.Status.STOPPING:
        _finish_stopped(run)
        return DriveResult.FINISHED

    own_client = client is None
    try:
        client = client or WhatsAppClient()
    except ValueError as exc:  # WhatsAppConfigurationError: a setting is missing
        finish_run(
            run_id=run_id,
            status=BatchRun.Status.FAILED,
            reason=_("API Error: %(e)s") % {"e": exc},
            action="batch.fail",
        )
        return DriveResult.FINISHED
    watcher = _Watcher(run_id=run_id, owner=owner)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=run.batch_size, thread_name_prefix="send") as pool:
            return _loop(
                run=run,
                owner=owner,
                client=client,
                pool=pool,
                watcher=watcher,
                deadline=time.monotonic() + (slice_seconds or settings.SENDING_SLICE_SECONDS),
                on_batch=on_batch,
                continue_in_queue=continue_in_queue,
            )
    finally:
        watcher.done.set()
        watcher.join(timeout=5)
        if own_client:
            client.close()


def _loop(
    *,
    run: BatchRun,
    owner: str,
    client: WhatsAppClient,
    pool: ThreadPoolExecutor,
    watcher: _Watcher,
    deadline: float,
    on_batch: Callable[[BatchRun], None] | None,
    continue_in_queue: bool,
) -> str:
    campaign: Campaign = run.campaign

    def hand_over() -> str:
        return _hand_over(run, owner, enqueue=continue_in_queue)

    template = _Template(
        name=campaign.template_name,
        language=campaign.template_language,
        defaults=list(campaign.template_parameters or []),
        named=campaign.named_parameters,
    )
    window: deque[bool] = deque(maxlen=settings.SENDING_FAILURE_WINDOW)
    delay = float(run.current_delay_seconds or run.delay_seconds)
    batch_number = run.batches_done

    # A continuation resumes the pause the previous slice was in.
    if run.next_batch_at is not None:
        remaining = (run.next_batch_at - timezone.now()).total_seconds()
        if remaining > 0 and _pause(watcher, remaining, deadline):
            return _after_pause(run, watcher, hand_over)

    # Seconds from the end of a pause to the first message of the next batch (claiming,
    # reserving slots): the pause ends that much early so the gap between batches is the
    # configured delay, not the delay plus bookkeeping.
    lead_time = 0.0
    while True:
        if watcher.lease_lost.is_set():
            return DriveResult.LEASE_LOST
        if watcher.stop_requested.is_set():
            return _after_pause(run, watcher, hand_over)
        if time.monotonic() >= deadline:
            return hand_over()

        iteration_started = time.monotonic()
        claimed = claim_batch(
            run_id=run.pk, campaign_id=campaign.pk, owner=owner, limit=run.batch_size
        )
        if not claimed:
            wait = _seconds_until_next_retry(campaign.pk)
            if wait is None:
                finish_run(
                    run_id=run.pk,
                    status=BatchRun.Status.COMPLETED,
                    reason=_("Nothing left to send"),
                    action="batch.complete",
                )
                return DriveResult.FINISHED
            if wait > 0 and _pause(watcher, min(wait, MAX_IDLE_WAIT_SECONDS), deadline):
                return _after_pause(run, watcher, hand_over)
            continue

        batch_number += 1
        started = time.monotonic()
        lead_time = 0.8 * lead_time + 0.2 * (started - iteration_started)
        results = _send_batch(claimed, template=template, client=client, pool=pool, watcher=watcher)
        sends_done = time.monotonic()
        elapsed = sends_done - started
        outcome = record_batch(
            run_id=run.pk,
            campaign_id=campaign.pk,
            batch_number=batch_number,
            max_retries=run.max_retries,
            results=results,
            batch_seconds=elapsed,
        )
        window.extend(outcome.attempt_failures)

        if outcome.fatal is not None:
            reason = _("API Error: %(hint)s") % {
                "hint": outcome.fatal.hint or outcome.fatal.describe()
            }
            finish_run(
                run_id=run.pk, status=BatchRun.Status.FAILED, reason=reason, action="batch.fail"
            )
            return DriveResult.FINISHED
        failures = sum(window)
        if (
            len(window) == window.maxlen
            and failures / len(window) > settings.SENDING_FAILURE_THRESHOLD
        ):
            finish_run(
                run_id=run.pk,
                status=BatchRun.Status.STOPPED,
                reason=_(
                    "Auto-stopped: %(f)s of the last %(n)s attempts failed (more than %(p)s %%)"
                    " — check the activity log for the error codes"
                )
                % {
                    "f": failures,
                    "n": len(window),
                    "p": round(settings.SENDING_FAILURE_THRESHOLD * 100),
                },
                action="batch.auto_stop",
            )
            return DriveResult.FINISHED

        delay = _next_delay(run, delay, slowed=outcome.slow_down, batch_number=batch_number)
        _remember_pace(run, delay=delay, batch_seconds=elapsed)
        if on_batch is not None:
            on_batch(run)
        if not _anything_pending(campaign.pk):
            continue  # no pause after the last batch: the next claim finds nothing and ends
        # The delay runs from the batch's last answer: recording it is part of the pause, so a
        # run takes (batches − 1) × delay + its batches' time, not that plus the bookkeeping.
        if _pause(watcher, delay - (time.monotonic() - sends_done) - lead_time, deadline):
            return _after_pause(run, watcher, hand_over)


def _send_batch(
    claimed: list[ClaimedRecipient],
    *,
    template: _Template,
    client: WhatsAppClient,
    pool: ThreadPoolExecutor,
    watcher: _Watcher,
) -> list[tuple[ClaimedRecipient, SendResult | None]]:
    """Send one batch concurrently, each message in its reserved throughput slot."""
    slots = reserve_slots(
        phone_number_id=client.phone_number_id,
        count=len(claimed),
        per_second=settings.WHATSAPP_THROUGHPUT_PER_SECOND,
    )

    def send_one(index: int, recipient: ClaimedRecipient) -> SendResult | None:
        wait = (slots.slot(index) - timezone.now()).total_seconds()
        if wait > 0 and watcher.stop_requested.wait(wait):
            return None
        if watcher.stop_requested.is_set():
            return None
        try:
            parameters = merge_parameters(template.defaults, recipient.variables)
        except ValueError as exc:
            return _invalid_parameters(str(exc))
        return client.send_template(
            to=recipient.phone_number,
            template_name=template.name,
            language=template.language,
            parameters=parameters,
            named=template.named,
        )

    futures = [pool.submit(send_one, i, r) for i, r in enumerate(claimed)]
    return [(r, f.result()) for r, f in zip(claimed, futures, strict=True)]


def _invalid_parameters(message: str) -> SendResult:
    return SendResult(
        outcome=Outcome.FATAL,
        hint=_("%(e)s — check the campaign's template parameters") % {"e": message},
    )


def _anything_pending(campaign_id: int) -> bool:
    """Whether any recipient is still pending (due now or later); one index lookup."""
    return Recipient.objects.filter(
        campaign_id=campaign_id, status=Recipient.Status.PENDING
    ).exists()


def _seconds_until_next_retry(campaign_id: int) -> float | None:
    """None when nothing is pending; else seconds until the earliest retry is due."""
    due = (
        Recipient.objects.filter(campaign_id=campaign_id, status=Recipient.Status.PENDING)
        .order_by()
        .aggregate(first=Min("next_attempt_at"), any=Min("id"))
    )
    if due["any"] is None:
        return None
    if due["first"] is None:
        return 0.0
    return max((due["first"] - timezone.now()).total_seconds(), 0.0)


def _next_delay(run: BatchRun, delay: float, *, slowed: bool, batch_number: int) -> float:
    """Rate-limit answers double the pause (to a ceiling); quiet batches halve it back."""
    configured = float(run.delay_seconds)
    if slowed:
        new = min(max(delay * 2, configured + 1), float(settings.SENDING_MAX_DELAY_SECONDS))
        log(
            run.pk,
            _(
                "Rate limit exceeded — increase the delay between batches "
                "(waiting %(d).0f s instead of %(c)s s for now)"
            )
            % {"d": new, "c": run.delay_seconds},
            level=BatchRunLog.Level.WARNING,
            batch_number=batch_number,
        )
        return new
    if delay > configured:
        new = max(configured, delay / 2)
        if new == configured:
            log(
                run.pk,
                _("Rate limit cleared — back to %(c)s s between batches")
                % {"c": run.delay_seconds},
                batch_number=batch_number,
            )
        return new
    return configured


def _remember_pace(run: BatchRun, *, delay: float, batch_seconds: float) -> None:
    avg = run.avg_batch_seconds
    run.avg_batch_seconds = batch_seconds if avg is None else 0.8 * avg + 0.2 * batch_seconds
    run.current_delay_seconds = delay
    run.next_batch_at = timezone.now() + timedelta(seconds=delay)
    BatchRun.objects.filter(pk=run.pk).update(
        avg_batch_seconds=run.avg_batch_seconds,
        current_delay_seconds=delay,
        next_batch_at=run.next_batch_at,
    )


def _pause(watcher: _Watcher, seconds: float, deadline: float) -> bool:
    """Sleep up to ``seconds`` or until the slice ends; True when a stop came first."""
    seconds = min(seconds, max(deadline - time.monotonic(), 0.0))
    return watcher.stop_requested.wait(seconds) if seconds > 0 else watcher.stop_requested.is_set()


def _after_pause(run: BatchRun, watcher: _Watcher, hand_over: Callable[[], str]) -> str:
    """The watcher raised the flag: either the lease is gone or a stop was requested."""
    if watcher.lease_lost.is_set():
        return DriveResult.LEASE_LOST
    status = BatchRun.objects.filter(pk=run.pk).values_list("status", flat=True).first()
    if status == BatchRun.Status.STOPPING:
        run.refresh_from_db()
        _finish_stopped(run)
        return DriveResult.FINISHED
    if status not in BatchRun.ACTIVE_STATUSES:
        return DriveResult.FINISHED
    return hand_over()


def _finish_stopped(run: BatchRun) -> None:
    who = run.stopped_by.get_username() if run.stopped_by else _("the system")
    finish_run(
        run_id=run.pk,
        status=BatchRun.Status.STOPPED,
        reason=_("Stopped by %(who)s") % {"who": who},
        action="batch.stopped",
    )


def _hand_over(run: BatchRun, owner: str, *, enqueue: bool) -> str:
    """End this slice: give the lease back and (usually) queue a continuation task."""
    with transaction.atomic():
        lease.release(run_id=run.pk, owner=owner)
        if enqueue:
            transaction.on_commit(lambda: enqueue_driver(run.pk))
    close_old_connections()
    return DriveResult.HANDED_OVER
