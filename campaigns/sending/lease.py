"""Which worker drives a run: a lease renewed by a heartbeat, and recovery of dead ones."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import stats
from campaigns.models import BatchRun, BatchRunLog, Recipient
from campaigns.sending.runs import add_to_run_counters, enqueue_driver, log

logger = logging.getLogger(__name__)


def new_owner() -> str:
    """A lease owner id: host and pid (so a dead local owner is recognised) plus a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(*, run_id: int, owner: str) -> bool:
    """Take the run's lease if it is free, expired, or already ours.

    Whatever a previous owner left ``sending`` is marked ``in_doubt`` in the same
    transaction: its messages may have reached WhatsApp, so they are never resent blindly.
    """
    now = timezone.now()
    with transaction.atomic():
        taken = (
            BatchRun.objects.filter(pk=run_id, status__in=BatchRun.ACTIVE_STATUSES)
            .filter(Q(lease_owner="") | Q(lease_owner=owner) | Q(lease_expires_at__lt=now))
            .update(
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=settings.SENDING_LEASE_SECONDS),
                heartbeat_at=now,
            )
        )
        if not taken:
            return False
        orphaned = mark_in_flight_in_doubt(run_id=run_id)
        if orphaned:
            log(
                run_id,
                _(
                    "%(n)s recipient(s) were in flight when the previous worker stopped: "
                    "marked in doubt, not resent"
                )
                % {"n": orphaned},
                level=BatchRunLog.Level.WARNING,
            )
    return True


def mark_in_flight_in_doubt(*, run_id: int) -> int:
    """Move the run's ``sending`` recipients to ``in_doubt``; call with the lease held."""
    rows = list(
        Recipient.objects.select_for_update()
        .filter(batch_run_id=run_id, status=Recipient.Status.SENDING)
        .values_list("pk", "campaign_id")
    )
    if not rows:
        return 0
    campaign_id = rows[0][1]
    updated = Recipient.objects.filter(
        pk__in=[pk for pk, _c in rows], status=Recipient.Status.SENDING
    ).update(status=Recipient.Status.IN_DOUBT, error_message=_("worker stopped mid-send"))
    stats.move(
        campaign_id,
        from_status=Recipient.Status.SENDING,
        to_status=Recipient.Status.IN_DOUBT,
        count=updated,
    )
    add_to_run_counters(run_id, in_doubt=updated)
    return updated


def renew(*, run_id: int, owner: str) -> bool:
    """Heartbeat: extend our lease. False when the lease is no longer ours."""
    now = timezone.now()
    return bool(
        BatchRun.objects.filter(pk=run_id, lease_owner=owner).update(
            heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=settings.SENDING_LEASE_SECONDS),
        )
    )


def release(*, run_id: int, owner: str) -> None:
    """Give the lease back (for a continuation task to take)."""
    BatchRun.objects.filter(pk=run_id, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None, heartbeat_at=timezone.now()
    )


def owner_is_dead_here(owner: str) -> bool:
    """True when the owner ran on this host and its process no longer exists."""
    host, _sep, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid_text))


def _is_zombie(pid: int) -> bool:
    """A killed worker that nobody has reaped yet still answers signal 0, but is dead.

    That happens whenever the whole cluster is killed: the workers are re-parented to PID 1,
    which reaps late (or, in a container without an init, never).
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return Path("/proc/self/stat").exists()  # gone since signal 0; no /proc: don't know
    except OSError:
        return False
    # The state follows the command name in parentheses, which may itself hold spaces.
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


def recover_orphaned_runs() -> list[int]:
    """Re-enqueue active runs that nobody drives; returns their ids.

    A run is orphaned when its lease expired, its owner died on this host, or it has had no
    lease and no heartbeat for longer than a lease (its task was lost, e.g. on Redis).
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SENDING_LEASE_SECONDS)
    candidates = BatchRun.objects.filter(status__in=BatchRun.ACTIVE_STATUSES).values_list(
        "pk", "lease_owner", "lease_expires_at", "heartbeat_at", "created_at"
    )
    orphaned: list[int] = []
    for run_id, owner, expires, heartbeat, created in candidates:
        if owner:
            dead = (expires is not None and expires < now) or owner_is_dead_here(owner)
            if dead:
                # Expire it now so the next driver can take it without waiting.
                BatchRun.objects.filter(pk=run_id, lease_owner=owner).update(
                    lease_expires_at=now - timedelta(seconds=1)
                )
        else:
            dead = (heartbeat or created) < stale
        if dead:
            orphaned.append(run_id)
            enqueue_driver(run_id)
    if orphaned:
        logger.warning("re-enqueued orphaned batch runs %s", orphaned)
    return orphaned
