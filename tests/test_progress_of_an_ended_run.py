"""After a stop or a failure the progress still counts what the campaign has left to send;
only a completed run has nothing pending. The page's notice says how the run ended."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from campaigns import stats
from campaigns.models import BatchRun, Campaign
from campaigns.sending.progress import snapshot
from tests.batch_admin_helpers import figure, live_url, make_run, progress_url
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db

PLANNED = 160
BATCH = 10
SENT = 60


def end(run: BatchRun, status: str, reason: str = "") -> BatchRun:
    BatchRun.objects.filter(pk=run.pk).update(
        status=status, finished_at=timezone.now(), end_reason=reason
    )
    return BatchRun.objects.select_related("campaign").get(pk=run.pk)


@pytest.fixture
def six_of_sixteen(campaign: Campaign) -> BatchRun:
    """A run of 160 in batches of 10, after 6 batches: 60 sent, 100 still pending."""
    add_recipients(campaign, PLANNED)
    run = make_run(campaign, total_count=PLANNED, batch_size=BATCH, batches_done=6)
    ids = list(campaign.recipients.values_list("pk", flat=True)[:SENT])
    campaign.recipients.filter(pk__in=ids).update(status="sent")
    stats.recount(campaign.pk)
    BatchRun.objects.filter(pk=run.pk).update(sent_count=SENT)
    return run


@pytest.mark.parametrize("status", [BatchRun.Status.STOPPED, BatchRun.Status.FAILED])
def test_a_stopped_or_failed_run_still_counts_what_is_pending(
    six_of_sixteen: BatchRun, status: str
) -> None:
    progress = snapshot(end(six_of_sixteen, status))

    assert progress.pending == PLANNED - SENT
    assert (progress.batches_done, progress.batches_total) == (6, 16)
    assert progress.total == PLANNED
    assert progress.percent == 37.5
    assert progress.eta_seconds is None


def test_recipients_in_flight_count_as_still_pending(six_of_sixteen: BatchRun) -> None:
    campaign = six_of_sixteen.campaign
    ids = list(campaign.recipients.filter(status="pending").values_list("pk", flat=True)[:5])
    campaign.recipients.filter(pk__in=ids).update(status="sending")
    stats.recount(campaign.pk)

    progress = snapshot(end(six_of_sixteen, BatchRun.Status.STOPPED))

    assert progress.pending == PLANNED - SENT


def test_a_completed_run_has_nothing_pending_even_if_recipients_came_later(
    six_of_sixteen: BatchRun,
) -> None:
    progress = snapshot(end(six_of_sixteen, BatchRun.Status.COMPLETED))

    assert progress.pending == 0
    assert progress.batches_total == progress.batches_done == 6


def test_the_page_after_a_stop_reads_batch_6_of_16(
    auditor_client: Client, six_of_sixteen: BatchRun
) -> None:
    end(six_of_sixteen, BatchRun.Status.STOPPED, "Stopped by op")

    page = auditor_client.get(progress_url(six_of_sixteen)).content.decode()

    assert figure(page, "run-batches") == "6 of 16"
    assert figure(page, "run-pending") == "100"
    assert figure(page, "run-percent") == "37.5 %"
    assert figure(page, "run-processed") == "60 / 160"


def notice_class(page: str, code: str) -> str:
    tag = page[: page.index(f'data-notice="{code}"')]
    tag = tag[tag.rindex("<li") :]
    return tag.split('class="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    ("status", "code", "level"),
    [
        (BatchRun.Status.STOPPED, "stopped", "warning"),
        (BatchRun.Status.FAILED, "failed", "error"),
        (BatchRun.Status.COMPLETED, "completed", "success"),
    ],
)
def test_how_the_run_ended_sets_the_notice_style(
    auditor_client: Client, six_of_sixteen: BatchRun, status: str, code: str, level: str
) -> None:
    end(six_of_sixteen, status, "Stopped automatically: too many failures")

    page = auditor_client.get(live_url(six_of_sixteen)).content.decode()

    assert notice_class(page, code) == level


def test_a_requested_stop_is_a_warning_too(
    auditor_client: Client, six_of_sixteen: BatchRun
) -> None:
    BatchRun.objects.filter(pk=six_of_sixteen.pk).update(status=BatchRun.Status.STOPPING)

    page = auditor_client.get(live_url(six_of_sixteen)).content.decode()

    assert notice_class(page, "stopping") == "warning"


def test_a_completed_run_says_completed_with_its_reason(
    auditor_client: Client, six_of_sixteen: BatchRun
) -> None:
    end(six_of_sixteen, BatchRun.Status.COMPLETED, "Nothing left to send")

    page = auditor_client.get(live_url(six_of_sixteen)).content.decode()

    assert "<strong>Completed</strong>" in page
    assert "Nothing left to send" in page
