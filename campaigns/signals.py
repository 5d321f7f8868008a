"""Hooks into django-q2: a freshly spawned worker looks for runs a dead worker left behind."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver
from django_q.signals import post_spawn

logger = logging.getLogger(__name__)


@receiver(post_spawn)
def recover_runs_on_worker_start(sender: Any, proc_name: str, **kwargs: Any) -> None:
    # A worker is (re)spawned at cluster start and after a worker was killed: exactly when
    # a run may have lost its driver. Never let a recovery problem kill the worker itself.
    from campaigns.sending.lease import recover_orphaned_runs

    try:
        recover_orphaned_runs()
    except Exception:
        logger.exception("recovering orphaned batch runs failed in %s", proc_name)
