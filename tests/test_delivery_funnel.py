"""The delivery funnel — accepted, delivered, read, failed — on the campaign page, kept live."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns import stats
from campaigns.funnel import delivery_funnel
from campaigns.models import Campaign, Recipient
from tests.factories import add_recipients, make_campaign
from tests.webhook_payloads import payload, post_signed, sent_recipients, status

pytestmark = pytest.mark.django_db


def fragment_url(campaign: Campaign) -> str:
    return reverse("campaign_delivery_funnel", args=[campaign.pk])


def test_the_funnel_comes_from_the_counters() -> None:
    campaign = make_campaign()
    stats.shift(campaign.pk, {"sent": 5, "delivered": 3, "read": 2, "failed": 10, "pending": 7})
    campaign.refresh_from_db()

    funnel = delivery_funnel(campaign)

    assert (funnel.attempted, funnel.accepted, funnel.delivered, funnel.read, funnel.failed) == (
        20,
        10,
        5,
        2,
        10,
    )
    assert (
        funnel.accepted_percent,
        funnel.delivered_percent,
        funnel.read_percent,
        funnel.failed_percent,
    ) == (
        50.0,
        25.0,
        10.0,
        50.0,
    )


def test_an_unsent_campaign_has_an_empty_funnel_without_dividing_by_zero() -> None:
    funnel = delivery_funnel(make_campaign())

    assert (funnel.attempted, funnel.accepted_percent, funnel.read_percent) == (0, 0.0, 0.0)


def test_the_campaign_page_shows_the_funnel_polling_its_fragment(auditor_client: Client) -> None:
    campaign = make_campaign()
    sent_recipients(campaign, 4)

    response = auditor_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="delivery-funnel-{campaign.pk}"' in html
    assert f'hx-get="{fragment_url(campaign)}"' in html
    assert 'hx-trigger="every' in html
    assert "htmx" in html and ".js" in html  # the page loads htmx


def test_the_fragment_follows_webhooks_as_they_arrive(auditor_client: Client) -> None:
    campaign = make_campaign()
    recipients = sent_recipients(campaign, 4)
    add_recipients(campaign, 1, status=Recipient.Status.FAILED, start=100)
    post_signed(
        Client(),
        payload(
            [status(r.wamid, "delivered") for r in recipients[:3]]
            + [status(recipients[0].wamid, "read")]
        ),
    )

    response = auditor_client.get(fragment_url(campaign), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response.context["campaign"].pk == campaign.pk
    html = response.content.decode()
    for stage, count in (("accepted", 4), ("delivered", 3), ("read", 1), ("failed", 1)):
        cell = (
            html.split(f'data-stage="{stage}"')[1].split('class="funnel-count">')[1].split("<")[0]
        )
        assert cell == str(count), stage
    assert "<html" not in html  # a fragment, not a page


def test_the_fragment_needs_the_view_campaign_permission(db: None) -> None:
    campaign = make_campaign()
    staff = User.objects.create_user("nobody", password="x-password-123", is_staff=True)
    client = Client()
    client.force_login(staff)

    assert client.get(fragment_url(campaign)).status_code == 403


def test_anonymous_users_are_sent_to_the_login_page() -> None:
    response = Client().get(fragment_url(make_campaign()))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_an_unknown_campaign_is_404(auditor_client: Client) -> None:
    assert auditor_client.get(reverse("campaign_delivery_funnel", args=[999999])).status_code == 404
