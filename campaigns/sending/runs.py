"""The life of a BatchRun: start, stop, finish, and the operator's in-doubt resolutions.

Every state change checks the current state under a row lock first and writes its audit row
in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import audit, stats
from campaigns.models import (
    BATCH_SIZE_MAX,
    BATCH_SIZE_MIN,
    DELAY_SECONDS_MAX,
    DELAY_SECONDS_MIN,
    MAX_RETRIES_MAX,
    MAX_RETRIES_MIN,
    BatchRun,
    BatchRunLog,
    Campaign,
    Recipient,
)
from campaigns.sending.exceptions import (
    CampaignNotFound,
    CampaignNotRunnable,
    InvalidBatchConfiguration,
    NoPendingRecipients,
    RunAlreadyActive,
    RunNotActive,
    RunNotFound,
)

Actor = AbstractBaseUser | AnonymousUser | None

# A completed campaign may get new pending recipients (an import, "send again"): it can run
# again, and with nothing pending it gets the clear "No pending recipients" answer.
RUNNABLE_CAMPAIGN_STATUSES = (
    Campaign.Status.DRAFT,
    Campaign.Status.SENDING,
    Campaign.Status.COMPLETED,
    Campaign.Status.FAILED,
)


def config_of(run: BatchRun) -> dict[str, int]:
    return {
        "batch_size": run.batch_size,
        "delay_seconds": run.delay_seconds,
        "max_retries": run.max_retries,
    }


def counts_of(run: BatchRun) -> dict[str, int]:
    return {
        "total": run.total_count,
        "sent": run.sent_count,
        "failed": run.failed_count,
        "retried": run.retried_count,
        "in_doubt": run.in_doubt_count,
        "batches": run.batches_done,
    }


def validate_configuration(*, batch_size: int, delay_seconds: int, max_retries: int) -> None:
    checks = [
        (_("Batch size"), batch_size, BATCH_SIZE_MIN, BATCH_SIZE_MAX),
        (_("Delay between batches"), delay_seconds, DELAY_SECONDS_MIN, DELAY_SECONDS_MAX),
        (_("Max retries"), max_retries, MAX_RETRIES_MIN, MAX_RETRIES_MAX),
    ]
    for label, value, low, high in checks:
        if not low <= value <= high:
            raise InvalidBatchConfiguration(
                _("%(label)s must be between %(low)s and %(high)s (got %(value)s).")
                % {"label": label, "low": low, "high": high, "value": value}
            )


def log(
    run_id: int,
    message: str,
    *,
    level: str = BatchRunLog.Level.INFO,
    batch_number: int | None = None,
    **figures: Any,
) -> None:
    BatchRunLog.objects.create(
        run_id=run_id, level=level, batch_number=batch_number, message=message, **figures
    )


def start_run(
    *,
    campaign_id: int,
    actor: Actor,
    batch_size: int,
    delay_seconds: int,
    max_retries: int,
    request: HttpRequest | None = None,
    via: str = "admin",
    enqueue: bool = True,
) -> BatchRun:
    """Create a queued run for the campaign's pending recipients and enqueue its driver.

    ``enqueue=False`` leaves the driving to the caller (the ``run_batch`` command).
    """
    validate_configuration(
        batch_size=batch_size, delay_seconds=delay_seconds, max_retries=max_retries
    )
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise CampaignNotFound()
        if campaign.status not in RUNNABLE_CAMPAIGN_STATUSES:
            raise CampaignNotRunnable(campaign.get_status_display())
        if campaign.batch_runs.filter(status__in=BatchRun.ACTIVE_STATUSES).exists():
            raise RunAlreadyActive()
        if campaign.pending_count == 0:
            raise NoPendingRecipients()
        try:
            with transaction.atomic():
                run = BatchRun.objects.create(
                    campaign=campaign,
                    started_by_id=actor.pk
                    if actor is not None and actor.is_authenticated
                    else None,
                    batch_size=batch_size,
                    delay_seconds=delay_seconds,
                    max_retries=max_retries,
                    total_count=campaign.pending_count,
                    current_delay_seconds=float(delay_seconds),
                )
        except IntegrityError as exc:
            # The partial unique index: another start won the race.
            raise RunAlreadyActive() from exc
        now = timezone.now()
        campaign.status = Campaign.Status.SENDING
        campaign.started_at = campaign.started_at or now
        campaign.completed_at = None
        campaign.save(update_fields=["status", "started_at", "completed_at"])
        log(
            run.pk,
            _("Run queued by %(who)s: %(n)s pending, batch %(b)s, delay %(d)s s, retries %(r)s")
            % {
                "who": _actor_name(actor),
                "n": run.total_count,
                "b": batch_size,
                "d": delay_seconds,
                "r": max_retries,
            },
        )
        audit.record(
            action="batch.start",
            actor=actor,
            obj=run,
            request=request,
            details={
                "campaign_id": campaign.pk,
                "campaign": campaign.name,
                "pending": run.total_count,
                "via": via,
                **config_of(run),
            },
        )
        run_id = run.pk
        if enqueue:
            transaction.on_commit(lambda: enqueue_driver(run_id))
    return run


def enqueue_driver(run_id: int) -> None:
    """Queue a django-q2 task that drives (or continues) the run."""
    from django_q.tasks import async_task

    async_task("campaigns.tasks.drive_run", run_id, task_name=f"batch-run-{run_id}")


def request_stop(
    *,
    run_id: int,
    actor: Actor,
    request: HttpRequest | None = None,
    via: str = "admin",
) -> BatchRun:
    """Ask a run to stop. A queued run stops at once; a running one within a second."""
    with transaction.atomic():
        run = BatchRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise RunNotFound()
        if not run.is_active:
            raise RunNotActive()
        if run.status == BatchRun.Status.STOPPING:
            return run
        run.stopped_by_id = actor.pk if actor is not None and actor.is_authenticated else None
        if run.status == BatchRun.Status.QUEUED and not run.lease_owner:
            now = timezone.now()
            run.status = BatchRun.Status.STOPPED
            run.finished_at = now
            run.end_reason = _("Stopped by %(who)s before it started") % {"who": _actor_name(actor)}
        else:
            run.status = BatchRun.Status.STOPPING
        run.save(update_fields=["status", "stopped_by_id", "finished_at", "end_reason"])
        log(
            run.pk,
            _("Stop requested by %(who)s") % {"who": _actor_name(actor)},
            level=BatchRunLog.Level.WARNING,
        )
        audit.record(
            action="batch.stop",
            actor=actor,
            obj=run,
            request=request,
            details={"campaign_id": run.campaign_id, "via": via, **counts_of(run)},
        )
    return run


def finish_run(*, run_id: int, status: str, reason: str, action: str) -> BatchRun | None:
    """End an active run with ``status`` and move the campaign along; audited as the system."""
    with transaction.atomic():
        run = (
            BatchRun.objects.select_for_update()
            .select_related("campaign")
            .filter(pk=run_id, status__in=BatchRun.ACTIVE_STATUSES)
            .first()
        )
        if run is None:
            return None
        now = timezone.now()
        run.status = status
        run.end_reason = reason
        run.finished_at = now
        run.lease_owner = ""
        run.lease_expires_at = None
        run.next_batch_at = None
        run.save(
            update_fields=[
                "status",
                "end_reason",
                "finished_at",
                "lease_owner",
                "lease_expires_at",
                "next_batch_at",
            ]
        )
        campaign = Campaign.objects.select_for_update().get(pk=run.campaign_id)
        if status == BatchRun.Status.FAILED:
            campaign.status = Campaign.Status.FAILED
        elif campaign.pending_count == 0 and campaign.sending_count == 0:
            campaign.status = Campaign.Status.COMPLETED
            campaign.completed_at = now
        campaign.save(update_fields=["status", "completed_at"])
        level = (
            BatchRunLog.Level.INFO
            if status == BatchRun.Status.COMPLETED
            else BatchRunLog.Level.WARNING
            if status == BatchRun.Status.STOPPED
            else BatchRunLog.Level.ERROR
        )
        log(run.pk, reason, level=level)
        audit.record(
            action=action,
            obj=run,
            details={
                "campaign_id": campaign.pk,
                "campaign_status": campaign.status,
                "status": status,
                "reason": reason,
                "stopped_by": run.stopped_by.get_username() if run.stopped_by else None,
                **config_of(run),
                **counts_of(run),
            },
        )
    return run


class InDoubtResolution:
    SENT = "sent"
    FAILED = "failed"
    SEND_AGAIN = "pending"
    CHOICES = (SENT, FAILED, SEND_AGAIN)


def resolve_in_doubt(
    *,
    recipient_ids: Iterable[int],
    resolution: str,
    actor: Actor,
    request: HttpRequest | None = None,
    note: str = "",
) -> int:
    """Resolve ``in_doubt`` recipients: mark them sent, failed, or pending to send again.

    Returns how many were resolved; recipients no longer in doubt are left alone.
    """
    if resolution not in InDoubtResolution.CHOICES:
        raise ValueError(f"unknown resolution {resolution!r}")
    ids = list(recipient_ids)
    now = timezone.now()
    resolved = 0
    with transaction.atomic():
        rows = list(
            Recipient.objects.select_for_update()
            .filter(pk__in=ids, status=Recipient.Status.IN_DOUBT)
            .values_list("pk", "campaign_id", "phone_number")
        )
        per_campaign: dict[int, list[int]] = {}
        for pk, campaign_id, _phone in rows:
            per_campaign.setdefault(campaign_id, []).append(pk)
        changes: dict[str, Any] = {"status": resolution, "next_attempt_at": None}
        if resolution == InDoubtResolution.SENT:
            changes["sent_at"] = now
        elif resolution == InDoubtResolution.FAILED:
            changes["failed_at"] = now
        for campaign_id, pks in per_campaign.items():
            updated = Recipient.objects.filter(pk__in=pks, status=Recipient.Status.IN_DOUBT).update(
                **changes
            )
            stats.move(
                campaign_id,
                from_status=Recipient.Status.IN_DOUBT,
                to_status=resolution,
                count=updated,
            )
            if resolution == InDoubtResolution.SEND_AGAIN:
                reopen_campaign(campaign_id)
            resolved += updated
            audit.record(
                action="recipients.resolve_in_doubt",
                actor=actor,
                obj=Campaign.objects.get(pk=campaign_id),
                request=request,
                details={
                    "resolution": resolution,
                    "count": updated,
                    "recipients": [phone for pk, cid, phone in rows if cid == campaign_id][:500],
                    "note": note,
                },
            )
    return resolved


def reopen_campaign(campaign_id: int) -> None:
    """A completed campaign that has something to send again goes back to sending.

    Imports, "send again" and "retry failed" call it in their transaction.
    """
    Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.COMPLETED).update(
        status=Campaign.Status.SENDING, completed_at=None
    )


def add_to_run_counters(run_id: int, **amounts: int) -> None:
    changes = {f"{name}_count": F(f"{name}_count") + n for name, n in amounts.items() if n}
    if changes:
        BatchRun.objects.filter(pk=run_id).update(**changes)


def _actor_name(actor: Actor) -> str:
    if actor is not None and actor.is_authenticated:
        return actor.get_username()
    return _("the system")
