"""django-q2 entry points: take ids, call the engine, nothing else."""

from __future__ import annotations

from campaigns.sending.driver import drive
from campaigns.sending.lease import recover_orphaned_runs


def drive_run(run_id: int) -> str:
    """Drive one batch run for one time slice (continuations are queued by the engine)."""
    return drive(run_id=run_id)


def recover_runs() -> list[int]:
    """Re-enqueue runs whose worker died (scheduled every minute, and when a worker spawns)."""
    return recover_orphaned_runs()


def webhook_housekeeping() -> dict[str, int]:
    """Apply statuses that found their recipient late; purge old webhook payloads (scheduled)."""
    from campaigns.webhooks import housekeeping

    return housekeeping()
