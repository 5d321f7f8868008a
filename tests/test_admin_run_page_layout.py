"""The progress page's frame: breadcrumbs, the campaign named once, the live delivery funnel,
the action buttons and the chart's scale."""

from __future__ import annotations

import html
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import stats
from campaigns.models import BatchRun, BatchRunLog, Campaign
from tests.batch_admin_helpers import figure, live_url, make_run, progress_url
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(campaign: Campaign) -> BatchRun:
    """Running: 10 pending left of 20; 6 sent (4 delivered, 2 of them read), 1 failed."""
    add_recipients(campaign, 10)
    for index, (status, n) in enumerate(
        (("sent", 2), ("delivered", 2), ("read", 2), ("failed", 1))
    ):
        add_recipients(campaign, n, status=status, start=100 * (index + 1))
    run = make_run(campaign, total_count=17, batches_done=1)
    BatchRunLog.objects.create(
        run=run, batch_number=1, message="Batch 1", batch_sent=6, batch_failed=1, batch_seconds=1
    )
    return run


def breadcrumbs(page: str) -> str:
    start = page.index('<div class="breadcrumbs">')
    return page[start : page.index("</div>", start)]


def test_breadcrumbs_lead_to_the_campaigns_the_campaign_and_its_runs(
    auditor_client: Client, run: BatchRun
) -> None:
    crumbs = html.unescape(breadcrumbs(auditor_client.get(progress_url(run)).content.decode()))

    runs_of_campaign = (
        reverse("admin:campaigns_batchrun_changelist")
        + "?"
        + urlencode({"campaign__id__exact": run.campaign_id})
    )
    links = [
        reverse("admin:index"),
        reverse("admin:campaigns_campaign_changelist"),
        reverse("admin:campaigns_campaign_change", args=[run.campaign_id]),
        runs_of_campaign,
    ]
    positions = [crumbs.index(f'<a href="{link}">') for link in links]
    assert positions == sorted(positions)
    assert ">Campaigns</a>" in crumbs
    assert ">Batch runs</a>" in crumbs
    assert crumbs.rstrip().endswith(f"Run #{run.pk}")


def test_the_campaign_is_named_once_above_the_figures(
    auditor_client: Client, run: BatchRun
) -> None:
    page = auditor_client.get(progress_url(run)).content.decode()
    top = page[page.index('<div id="content"') : page.index('id="run-live"')]

    assert top.count(run.campaign.name) == 1
    assert f"<h1>Batch run #{run.pk}</h1>" in top


def test_the_live_fragment_carries_the_campaigns_delivery_funnel(
    auditor_client: Client, run: BatchRun
) -> None:
    page = auditor_client.get(progress_url(run)).content.decode()
    fragment = auditor_client.get(live_url(run)).content.decode()

    for text in (page, fragment):
        funnel = text[text.index(f'id="delivery-funnel-{run.campaign_id}"') :]
        assert 'data-stage="accepted"><th scope="row">Accepted</th><td class="funnel-count">6<' in (
            funnel
        )
        assert (
            'data-stage="delivered"><th scope="row">Delivered</th><td class="funnel-count">4<'
            in (funnel)
        )
        assert 'data-stage="read"><th scope="row">Read</th><td class="funnel-count">2<' in funnel
        assert (
            'data-stage="failed"><th scope="row">Failed</th><td class="funnel-count">1<' in funnel
        )


def test_the_funnel_follows_the_pages_polling_while_the_run_is_active(
    auditor_client: Client, run: BatchRun
) -> None:
    before = auditor_client.get(live_url(run)).content.decode()
    stats.move(run.campaign_id, from_status="sent", to_status="read", count=2)

    after = auditor_client.get(live_url(run)).content.decode()

    # One poll, the page's: the funnel does not poll on its own inside it.
    assert before.count("hx-trigger") == 1
    assert 'data-stage="read"><th scope="row">Read</th><td class="funnel-count">2<' in before
    assert 'data-stage="read"><th scope="row">Read</th><td class="funnel-count">4<' in after


def test_start_again_looks_like_a_button(operator_client: Client, run: BatchRun) -> None:
    BatchRun.objects.filter(pk=run.pk).update(
        status=BatchRun.Status.STOPPED, finished_at=timezone.now(), end_reason="Stopped by op"
    )
    Campaign.objects.filter(pk=run.campaign_id).update(status=Campaign.Status.SENDING)

    page = operator_client.get(progress_url(run)).content.decode()

    link = page[page.index('id="run-start-again"') - 60 : page.index('id="run-start-again"')]
    assert 'class="button default start-again-button"' in link


def test_the_chart_shows_its_scale(auditor_client: Client, run: BatchRun) -> None:
    BatchRunLog.objects.create(
        run=run, batch_number=2, message="Batch 2", batch_sent=9, batch_failed=3, batch_seconds=1
    )

    page = auditor_client.get(progress_url(run)).content.decode()

    assert figure(page, "run-chart-max") == "12"
