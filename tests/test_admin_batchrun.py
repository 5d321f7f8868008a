"""Batch runs in the admin: a read-only record with its activity log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import BatchRun, BatchRunLog, Campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(campaign: Campaign, operator) -> BatchRun:  # type: ignore[no-untyped-def]
    started = timezone.now() - timedelta(minutes=5)
    run = BatchRun.objects.create(
        campaign=campaign,
        started_by=operator,
        status=BatchRun.Status.COMPLETED,
        batch_size=20,
        delay_seconds=3,
        max_retries=2,
        sent_count=40,
        failed_count=2,
        started_at=started,
        finished_at=started + timedelta(minutes=1, seconds=30),
        end_reason="All pending recipients were processed.",
    )
    BatchRunLog.objects.create(run=run, batch_number=1, message="Batch 1: 20 sent")
    BatchRunLog.objects.create(
        run=run, batch_number=2, level=BatchRunLog.Level.ERROR, message="131026 not on WhatsApp"
    )
    return run


def test_run_list_shows_who_what_configuration_outcome_and_duration(
    auditor_client: Client, run: BatchRun
) -> None:
    page = auditor_client.get(reverse("admin:campaigns_batchrun_changelist")).content.decode()

    for text in ("op", run.campaign.name, "20 / 3 s / 2", "Completed", "0:01:30"):
        assert text in page, text


def test_run_page_shows_its_activity_log_read_only_even_to_a_superuser(
    admin_client: Client, run: BatchRun
) -> None:
    url = reverse("admin:campaigns_batchrun_change", args=[run.pk])

    page = admin_client.get(url).content.decode()
    post = admin_client.post(url, {"status": "failed"})

    assert "Batch 1: 20 sent" in page
    assert "131026 not on WhatsApp" in page
    assert f"run__id__exact={run.pk}" in page
    assert 'name="_save"' not in page
    assert post.status_code == 403
    run.refresh_from_db()
    assert run.status == BatchRun.Status.COMPLETED


def test_nobody_adds_or_deletes_runs_not_even_a_superuser(
    admin_client: Client, run: BatchRun
) -> None:
    assert admin_client.get(reverse("admin:campaigns_batchrun_add")).status_code == 403
    delete = reverse("admin:campaigns_batchrun_delete", args=[run.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert BatchRun.objects.filter(pk=run.pk).exists()


def test_full_activity_log_lists_only_that_run(auditor_client: Client, run: BatchRun) -> None:
    other = BatchRun.objects.create(campaign=run.campaign, status=BatchRun.Status.STOPPED)
    BatchRunLog.objects.create(run=other, message="from another run")

    page = auditor_client.get(
        reverse("admin:campaigns_batchrunlog_changelist"), {"run__id__exact": run.pk}
    ).content.decode()

    assert "Batch 1: 20 sent" in page
    assert "from another run" not in page
