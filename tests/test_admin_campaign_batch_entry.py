"""The campaign page leads to Manual Batch Processing: the Overview card, the Recipients button."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import BatchRun, Campaign
from tests.batch_admin_helpers import config_url, make_run, progress_url
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db


def change_page(client: Client, campaign: Campaign) -> str:
    return client.get(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    ).content.decode()


@pytest.mark.parametrize("status", ["sending", "failed"])
def test_card_opens_the_configuration_page_when_no_run_is_active(
    operator_client: Client, status: str
) -> None:
    campaign = make_campaign(status=status)
    add_recipients(campaign, 4)

    page = change_page(operator_client, campaign)

    assert 'id="manual-batch-card"' in page
    assert "Manual Batch Processing" in page
    assert f'id="open-manual-batch" href="{config_url(campaign)}"' in page


def test_card_opens_the_active_runs_progress_page(operator_client: Client) -> None:
    campaign = make_campaign(status=Campaign.Status.SENDING)
    add_recipients(campaign, 4)
    run = make_run(campaign)

    page = change_page(operator_client, campaign)

    assert f'id="open-manual-batch" href="{progress_url(run)}"' in page


def test_card_shows_the_last_runs_outcome(auditor_client: Client) -> None:
    campaign = make_campaign(status=Campaign.Status.FAILED)
    run = make_run(
        campaign,
        status=BatchRun.Status.FAILED,
        sent_count=7,
        failed_count=1,
        end_reason="API Error: access token expired (190) — check the WhatsApp API configuration",
    )

    page = change_page(auditor_client, campaign)

    assert f"Last run #{run.pk}: Failed, 7 sent, 1 failed." in page
    assert progress_url(run) in page


@pytest.mark.parametrize("status", ["draft", "completed", "cancelled"])
def test_no_card_for_campaigns_not_sending_or_failed(operator_client: Client, status: str) -> None:
    campaign = make_campaign(status=status)

    assert 'id="manual-batch-card"' not in change_page(operator_client, campaign)


def test_auditor_card_has_no_way_to_the_form(auditor_client: Client) -> None:
    campaign = make_campaign(status=Campaign.Status.SENDING)
    add_recipients(campaign, 4)

    page = change_page(auditor_client, campaign)

    assert 'id="manual-batch-card"' in page
    assert config_url(campaign) not in page
    assert 'id="open-manual-batch"' not in page


def test_auditor_card_still_leads_to_an_active_runs_progress(auditor_client: Client) -> None:
    campaign = make_campaign(status=Campaign.Status.SENDING)
    run = make_run(campaign)

    page = change_page(auditor_client, campaign)

    assert f'id="open-manual-batch" href="{progress_url(run)}"' in page


@pytest.mark.parametrize("status", ["draft", "sending", "failed"])
def test_recipients_section_has_send_batch_manually_for_operators(
    operator_client: Client, auditor_client: Client, status: str
) -> None:
    campaign = make_campaign(status=status)
    add_recipients(campaign, 2)

    operator_page = change_page(operator_client, campaign)
    auditor_page = change_page(auditor_client, campaign)

    assert f'id="send-batch-manually" href="{config_url(campaign)}"' in operator_page
    assert 'id="send-batch-manually"' not in auditor_page


def test_no_send_button_for_a_completed_campaign(operator_client: Client) -> None:
    campaign = make_campaign(status=Campaign.Status.COMPLETED)
    add_recipients(campaign, 2, status="sent")

    assert 'id="send-batch-manually"' not in change_page(operator_client, campaign)
