"""Shared builders for the Manual Batch Processing admin tests."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from campaigns.models import BatchRun, Campaign


def make_run(campaign: Campaign, **fields: Any) -> BatchRun:
    """A run as the engine leaves it mid-way: running, with a fresh heartbeat."""
    now = timezone.now()
    defaults: dict[str, Any] = {
        "status": BatchRun.Status.RUNNING,
        "batch_size": 10,
        "delay_seconds": 5,
        "max_retries": 3,
        "total_count": campaign.pending_count,
        "started_at": now - timedelta(seconds=30),
        "heartbeat_at": now,
        "current_delay_seconds": 5.0,
        "lease_owner": "worker-1",
        "lease_expires_at": now + timedelta(seconds=15),
    }
    defaults.update(fields)
    if defaults["status"] not in BatchRun.ACTIVE_STATUSES:
        defaults.setdefault("finished_at", now)
        defaults["lease_owner"] = ""
        defaults["lease_expires_at"] = None
    return BatchRun.objects.create(campaign=campaign, **defaults)


def progress_url(run: BatchRun) -> str:
    return reverse("admin:campaigns_batchrun_progress", args=[run.pk])


def live_url(run: BatchRun) -> str:
    return reverse("admin:campaigns_batchrun_progress_live", args=[run.pk])


def stop_url(run: BatchRun) -> str:
    return reverse("admin:campaigns_batchrun_stop", args=[run.pk])


def config_url(campaign: Campaign | int) -> str:
    pk = campaign if isinstance(campaign, int) else campaign.pk
    return reverse("admin:campaigns_campaign_send_batch", args=[pk])


def figure(page: str, element_id: str) -> str:
    """The text of the element with this id (no nested tags)."""
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert match, element_id
    return match.group(1).strip()


def action_post(action: str, pks: list[int], **extra: Any) -> dict[str, Any]:
    return {"action": action, "_selected_action": pks, "index": 0, **extra}
