"""The "Send Batch Manually" action on the campaign list: who sees it, what it accepts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from campaigns.models import BatchRun, Campaign
from tests.batch_admin_helpers import action_post, config_url, make_run, progress_url
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:campaigns_campaign_changelist")


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.wsgi_request._messages]


def test_operator_is_offered_send_batch_manually(
    operator_client: Client, campaign: Campaign
) -> None:
    page = operator_client.get(CHANGELIST).content.decode()

    assert '<option value="send_batch_manually">Send Batch Manually</option>' in page


def test_auditor_and_a_staff_user_without_the_permission_are_not_offered_it(
    auditor_client: Client, campaign: Campaign
) -> None:
    nobody = User.objects.create_user("viewer", password="x-password-123", is_staff=True)
    nobody.user_permissions.add(*Permission.objects.filter(codename="view_campaign"))
    viewer = Client()
    viewer.force_login(nobody)

    for client in (auditor_client, viewer):
        page = client.get(CHANGELIST).content.decode()
        assert "send_batch_manually" not in page


def test_auditor_posting_the_action_gets_403_and_no_run(
    auditor_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 3)

    response = auditor_client.post(CHANGELIST, action_post("send_batch_manually", [campaign.pk]))

    assert response.status_code == 403
    assert not BatchRun.objects.exists()


def test_one_sendable_campaign_opens_its_configuration_page(
    operator_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 3)

    response = operator_client.post(CHANGELIST, action_post("send_batch_manually", [campaign.pk]))

    assert response.status_code == 302
    assert response["Location"] == config_url(campaign)
    assert not BatchRun.objects.exists()


@pytest.mark.parametrize("status", ["draft", "sending", "failed"])
def test_draft_sending_and_failed_campaigns_are_accepted(
    operator_client: Client, status: str
) -> None:
    campaign = make_campaign(status=status)
    add_recipients(campaign, 2)

    response = operator_client.post(CHANGELIST, action_post("send_batch_manually", [campaign.pk]))

    assert response["Location"] == config_url(campaign)


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_completed_and_cancelled_campaigns_get_a_clear_message_and_no_run(
    operator_client: Client, status: str
) -> None:
    campaign = make_campaign(status=status, name="Seminar Medan")
    add_recipients(campaign, 2)

    response = operator_client.post(
        CHANGELIST, action_post("send_batch_manually", [campaign.pk]), follow=True
    )

    assert response.redirect_chain[-1][0].startswith(CHANGELIST)
    text = " ".join(messages_of(response))
    assert "Seminar Medan" in text
    assert "draft, sending or failed" in text
    assert not BatchRun.objects.exists()


def test_two_campaigns_at_once_are_refused(operator_client: Client) -> None:
    first, second = make_campaign(), make_campaign(name="Other")
    add_recipients(first, 1)
    add_recipients(second, 1, start=10)

    response = operator_client.post(
        CHANGELIST, action_post("send_batch_manually", [first.pk, second.pk]), follow=True
    )

    assert "Select exactly one campaign" in " ".join(messages_of(response))
    assert not BatchRun.objects.exists()


def test_a_campaign_with_nothing_pending_says_so(
    operator_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 2, status="sent")

    response = operator_client.post(
        CHANGELIST, action_post("send_batch_manually", [campaign.pk]), follow=True
    )

    assert "No pending recipients — all messages already sent" in messages_of(response)
    assert not BatchRun.objects.exists()


def test_a_campaign_with_an_active_run_leads_to_that_runs_progress(
    operator_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 5)
    run = make_run(campaign)

    response = operator_client.post(CHANGELIST, action_post("send_batch_manually", [campaign.pk]))

    assert response["Location"] == progress_url(run)
    assert BatchRun.objects.count() == 1
