"""Claiming a batch of recipients and writing what happened to them, in short transactions."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import CharField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import stats, webhooks
from campaigns.models import BatchRun, BatchRunLog, Recipient
from campaigns.sending.runs import add_to_run_counters
from campaigns.sending.suppressed import skip_suppressed
from campaigns.whatsapp.client import SendResult
from campaigns.whatsapp.errors import Outcome

# Retry waits get ±20 % jitter so recipients that failed together do not retry together.
BACKOFF_JITTER = 0.2
ERROR_TEXT_MAX = 2000


@dataclass(frozen=True)
class ClaimedRecipient:
    pk: int
    phone_number: str
    variables: dict[str, Any]
    attempts: int


@dataclass
class BatchOutcome:
    """What one batch did, for the run's counters, log and pacing decisions."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    in_doubt: int = 0
    released: int = 0
    slow_down: bool = False
    fatal: SendResult | None = None
    # One entry per real attempt, True when it failed: the failure-rate window.
    attempt_failures: list[bool] = field(default_factory=list)


def claim_batch(*, run_id: int, campaign_id: int, owner: str, limit: int) -> list[ClaimedRecipient]:
    """Mark up to ``limit`` due pending recipients ``sending`` for this run and commit.

    Rows locked by someone else are skipped (PostgreSQL); nothing is claimed when the run's
    lease is no longer ours or the run is no longer running.
    """
    now = timezone.now()
    with transaction.atomic():
        still_ours = (
            BatchRun.objects.select_for_update()
            .filter(pk=run_id, lease_owner=owner, status=BatchRun.Status.RUNNING)
            .exists()
        )
        if not still_ours:
            return []
        rows = list(
            Recipient.objects.select_for_update(skip_locked=True)
            .filter(campaign_id=campaign_id, status=Recipient.Status.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("id")
            .values_list("pk", "phone_number", "variables", "attempts")[:limit]
        )
        if not rows:
            return []
        # Suppressed numbers (opt-outs, 131050) are failed with the reason, never sent.
        rows = skip_suppressed(rows, run_id=run_id, campaign_id=campaign_id, now=now)
        if not rows:
            return []
        Recipient.objects.filter(pk__in=[row[0] for row in rows]).update(
            status=Recipient.Status.SENDING, batch_run_id=run_id, claimed_at=now
        )
        stats.move(
            campaign_id,
            from_status=Recipient.Status.PENDING,
            to_status=Recipient.Status.SENDING,
            count=len(rows),
        )
    return [ClaimedRecipient(*row) for row in rows]


def record_batch(
    *,
    run_id: int,
    campaign_id: int,
    batch_number: int,
    max_retries: int,
    results: list[tuple[ClaimedRecipient, SendResult | None]],
    batch_seconds: float,
) -> BatchOutcome:
    """Write every recipient's result, the counters and the batch's log lines at once.

    A ``None`` result means the message was never sent (a stop came first): the recipient
    goes back to pending untouched. Rows that are no longer ``sending`` for this run (a
    recovery marked them in doubt) are left as they are.
    """
    now = timezone.now()
    outcome = BatchOutcome()
    delta: Counter[str] = Counter()
    logs: list[BatchRunLog] = []
    with transaction.atomic():
        ours = set(
            Recipient.objects.select_for_update()
            .filter(
                pk__in=[claimed.pk for claimed, _result in results],
                batch_run_id=run_id,
                status=Recipient.Status.SENDING,
            )
            .values_list("pk", flat=True)
        )
        if not ours:
            # A new driver took the run over and marked these rows in doubt: a late report
            # from the old one must not touch the run's counters, batch number or log.
            return outcome
        updates: list[Recipient] = []
        for claimed, result in results:
            if claimed.pk not in ours:
                continue
            row = _apply(claimed, result, now=now, max_retries=max_retries, outcome=outcome)
            updates.append(row)
            delta[row.status] += 1
            line = _log_line(claimed, row, result, run_id=run_id, batch_number=batch_number)
            if line is not None:
                logs.append(line)
        if updates:
            _write_rows(updates)
            delta[Recipient.Status.SENDING] -= len(updates)
            stats.shift(campaign_id, delta)
            # Statuses that arrived before these results; 131050 numbers join the suppression list.
            webhooks.on_batch_recorded(
                campaign_id=campaign_id,
                sent_wamids=[row.wamid for row in updates if row.wamid],
                in_doubt_ids=[row.pk for row in updates if row.status == Recipient.Status.IN_DOUBT],
                opted_out=[c.phone_number for c, r in results if r is not None and r.opt_out],
            )
        add_to_run_counters(
            run_id,
            sent=outcome.sent,
            failed=outcome.failed,
            retried=outcome.retried,
            in_doubt=outcome.in_doubt,
        )
        BatchRun.objects.filter(pk=run_id).update(batches_done=batch_number)
        logs.append(
            BatchRunLog(
                run_id=run_id,
                batch_number=batch_number,
                level=BatchRunLog.Level.INFO,
                message=_(
                    "Batch %(n)s: %(sent)s sent, %(failed)s failed, %(retried)s to retry, "
                    "%(doubt)s in doubt in %(secs).1f s"
                )
                % {
                    "n": batch_number,
                    "sent": outcome.sent,
                    "failed": outcome.failed,
                    "retried": outcome.retried,
                    "doubt": outcome.in_doubt,
                    "secs": batch_seconds,
                },
                batch_sent=outcome.sent,
                batch_failed=outcome.failed,
                batch_seconds=batch_seconds,
            )
        )
        BatchRunLog.objects.bulk_create(logs)
    return outcome


_UPDATED_FIELDS = [
    "status",
    "attempts",
    "wamid",
    "sent_at",
    "failed_at",
    "next_attempt_at",
    "error_code",
    "error_message",
    "error_details",
    "error_http_status",
    "error_fbtrace_id",
]


def _write_rows(updates: list[Recipient]) -> None:
    """Write the batch's rows with one UPDATE per distinct outcome.

    ``bulk_update`` builds a CASE per field and row (11 × 50 expressions for a full batch),
    which cost more CPU than everything else a batch does. Rows with the same outcome share
    every value but their wamid, which goes in one plain ``CASE id WHEN … THEN …`` instead.
    """
    shared = [name for name in _UPDATED_FIELDS if name != "wamid"]
    groups: dict[tuple[Any, ...], list[Recipient]] = {}
    for row in updates:
        groups.setdefault(tuple(getattr(row, name) for name in shared), []).append(row)
    pk_column = connection.ops.quote_name(Recipient._meta.pk.column)
    for values, rows in groups.items():
        changes: dict[str, Any] = dict(zip(shared, values, strict=True))
        wamids = [(row.pk, row.wamid) for row in rows if row.wamid]
        changes["wamid"] = (
            RawSQL(  # noqa: S611 - the values are parameters, the column name is ours
                f"CASE {pk_column} {' '.join(['WHEN %s THEN %s'] * len(wamids))} END",
                [value for pair in wamids for value in pair],
                output_field=CharField(),
            )
            if wamids
            else None
        )
        Recipient.objects.filter(pk__in=[row.pk for row in rows]).update(**changes)


def _apply(
    claimed: ClaimedRecipient,
    result: SendResult | None,
    *,
    now: datetime,
    max_retries: int,
    outcome: BatchOutcome,
) -> Recipient:
    row = Recipient(pk=claimed.pk, attempts=claimed.attempts)
    row.next_attempt_at = None
    row.wamid = None
    row.sent_at = None
    row.failed_at = None
    if result is None:
        row.status = Recipient.Status.PENDING
        outcome.released += 1
        _copy_error(row, None)
        return row

    reached_api = result.http_status is not None or result.outcome is not Outcome.FATAL
    if reached_api:
        row.attempts = claimed.attempts + 1
        outcome.attempt_failures.append(not result.is_sent)
    _copy_error(row, None if result.is_sent else result)
    outcome.slow_down = outcome.slow_down or result.slow_down

    if result.is_sent:
        row.status = Recipient.Status.SENT
        row.wamid = result.wamid
        row.sent_at = now
        outcome.sent += 1
    elif result.outcome is Outcome.UNKNOWN or result.possibly_accepted:
        # It may have reached WhatsApp: never resend automatically.
        row.status = Recipient.Status.IN_DOUBT
        outcome.in_doubt += 1
    elif result.outcome in (Outcome.RETRY_LATER, Outcome.RETRY_RECIPIENT_LATER):
        if row.attempts > max_retries:
            row.status = Recipient.Status.FAILED
            row.failed_at = now
            outcome.failed += 1
        else:
            wait = result.backoff_seconds(failures=row.attempts) or 0.0
            wait *= 1 + random.uniform(-BACKOFF_JITTER, BACKOFF_JITTER)
            row.status = Recipient.Status.PENDING
            row.next_attempt_at = now + timedelta(seconds=wait)
            outcome.retried += 1
    elif result.outcome is Outcome.FATAL:
        # Not this recipient's fault: it stays pending for the next run.
        row.status = Recipient.Status.PENDING
        outcome.fatal = outcome.fatal or result
    else:
        row.status = Recipient.Status.FAILED
        row.failed_at = now
        if result.defer_hours:
            row.next_attempt_at = now + timedelta(hours=result.defer_hours)
        outcome.failed += 1
    return row


def _copy_error(row: Recipient, result: SendResult | None) -> None:
    row.error_code = result.error_code if result else None
    row.error_message = (result.error_message or result.hint)[:ERROR_TEXT_MAX] if result else ""
    row.error_details = result.error_details[:ERROR_TEXT_MAX] if result else ""
    row.error_http_status = result.http_status if result else None
    row.error_fbtrace_id = result.fbtrace_id[:64] if result else ""


def _log_line(
    claimed: ClaimedRecipient,
    row: Recipient,
    result: SendResult | None,
    *,
    run_id: int,
    batch_number: int,
) -> BatchRunLog | None:
    if result is None or result.is_sent:
        return None
    if row.status == Recipient.Status.PENDING and row.next_attempt_at is not None:
        message = _("Retry later %(phone)s (attempt %(n)s): %(reason)s") % {
            "phone": claimed.phone_number,
            "n": row.attempts,
            "reason": result.describe(),
        }
        level = BatchRunLog.Level.WARNING
    elif row.status == Recipient.Status.IN_DOUBT:
        message = _("In doubt %(phone)s — it may have been sent: %(reason)s") % {
            "phone": claimed.phone_number,
            "reason": result.describe(),
        }
        level = BatchRunLog.Level.WARNING
    elif row.status == Recipient.Status.PENDING:
        return None  # a fatal error: the run's own end line explains it
    else:
        message = _("Failed %(phone)s: %(reason)s") % {
            "phone": claimed.phone_number,
            "reason": result.describe(),
        }
        level = BatchRunLog.Level.ERROR
    return BatchRunLog(run_id=run_id, batch_number=batch_number, level=level, message=message)
