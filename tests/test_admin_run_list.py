"""The list of all runs: who, when, configuration, outcome, duration; each leads to its page."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import BatchRun, Campaign
from tests.batch_admin_helpers import make_run, progress_url
from tests.factories import make_campaign

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:campaigns_batchrun_changelist")


def test_auditor_reads_every_run_with_its_figures_and_a_link_to_its_progress(
    auditor_client: Client, operator: User, campaign: Campaign
) -> None:
    started = timezone.now() - timedelta(hours=1)
    done = make_run(
        campaign,
        status=BatchRun.Status.STOPPED,
        started_by=operator,
        stopped_by=operator,
        batch_size=25,
        delay_seconds=7,
        max_retries=4,
        sent_count=120,
        failed_count=6,
        in_doubt_count=2,
        started_at=started,
        finished_at=started + timedelta(minutes=3, seconds=5),
        end_reason="Stopped by op",
    )
    active = make_run(campaign, started_by=operator)

    response = auditor_client.get(CHANGELIST)
    page = response.content.decode()

    assert response.status_code == 200
    for cell in (
        '<td class="field-started_by nowrap">op</td>',
        '<td class="field-configuration"><span title="batch size 25, delay 7 s, max retries 4">'
        "25 / 7 s / 4</span></td>",
        '<td class="field-status">Stopped</td>',
        '<td class="field-sent_count">120</td>',
        '<td class="field-in_doubt_count">2</td>',
        '<td class="field-duration">0:03:05</td>',
        '<td class="field-status">Running</td>',
    ):
        assert cell in page, cell
    assert "field-started" in page
    campaign_url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    assert f'<td class="field-campaign_link"><a href="{campaign_url}">{campaign.name}</a>' in page
    assert f'<a href="{progress_url(done)}"' in page
    assert f'<a href="{progress_url(active)}"' in page
    assert 'name="action"' not in page


def test_runs_of_one_campaign_can_be_listed(auditor_client: Client, campaign: Campaign) -> None:
    other = make_campaign(name="Lain")
    mine = make_run(campaign, status=BatchRun.Status.COMPLETED)
    theirs = make_run(other, status=BatchRun.Status.COMPLETED)

    page = auditor_client.get(CHANGELIST, {"campaign__id__exact": campaign.pk}).content.decode()

    assert progress_url(mine) in page
    assert progress_url(theirs) not in page


def test_run_record_links_to_the_progress_page(auditor_client: Client, campaign: Campaign) -> None:
    run = make_run(campaign, status=BatchRun.Status.COMPLETED)

    page = auditor_client.get(
        reverse("admin:campaigns_batchrun_change", args=[run.pk])
    ).content.decode()

    assert progress_url(run) in page


def test_the_run_list_keeps_to_ten_columns_so_it_fits_a_laptop_screen(
    auditor_client: Client, campaign: Campaign
) -> None:
    make_run(campaign, status=BatchRun.Status.COMPLETED)

    page = auditor_client.get(CHANGELIST).content.decode()
    table = page[page.index('id="result_list"') :]
    header = table[: table.index("</thead>")]

    assert header.count('<th scope="col"') == 10
    for gone in ("field-batch_size", "field-delay_seconds", "field-stopped_by"):
        assert gone not in page
    # Long campaign names wrap instead of widening the table; no navigation sidebar beside it.
    assert "field-campaign_link nowrap" not in page
    assert 'id="nav-sidebar"' not in page


def test_a_run_that_never_started_shows_when_it_was_queued(
    auditor_client: Client, campaign: Campaign
) -> None:
    queued = make_run(campaign, status=BatchRun.Status.QUEUED, started_at=None)
    BatchRun.objects.filter(pk=queued.pk).update(
        created_at=datetime(2026, 6, 20, 9, 5, tzinfo=ZoneInfo(settings.TIME_ZONE))
    )

    page = auditor_client.get(CHANGELIST).content.decode()

    assert '<td class="field-started">06/20/2026 9:05 a.m.</td>' in page
