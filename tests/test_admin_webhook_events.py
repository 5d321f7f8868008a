"""Stored webhook payloads and unmatched statuses are readable in the admin, never editable."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import UnmatchedStatus, WebhookEvent
from tests.webhook_payloads import payload, post_signed, post_unsigned, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def events() -> list[WebhookEvent]:
    client = Client()
    post_signed(client, payload([status("wamid.SEEN", "delivered", recipient_id="6281200000009")]))
    post_unsigned(client, b"\xff not json")
    return list(WebhookEvent.objects.order_by("pk"))


@pytest.mark.parametrize("who", ["operator_client", "auditor_client"])
def test_both_roles_read_events_and_unmatched_statuses(
    request: pytest.FixtureRequest, who: str, events: list[WebhookEvent]
) -> None:
    client: Client = request.getfixturevalue(who)
    unmatched = UnmatchedStatus.objects.get()

    pages = [
        reverse("admin:campaigns_webhookevent_changelist"),
        reverse("admin:campaigns_webhookevent_change", args=[events[0].pk]),
        reverse("admin:campaigns_webhookevent_change", args=[events[1].pk]),
        reverse("admin:campaigns_unmatchedstatus_changelist"),
        reverse("admin:campaigns_unmatchedstatus_change", args=[unmatched.pk]),
    ]

    for url in pages:
        assert client.get(url).status_code == 200, url
    detail = client.get(pages[1])
    assert b"wamid.SEEN" in detail.content  # the raw body, readable
    assert b"wamid.SEEN" in client.get(pages[3]).content


@pytest.mark.parametrize("who", ["operator_client", "auditor_client"])
def test_nobody_adds_changes_or_deletes_events(
    request: pytest.FixtureRequest, who: str, events: list[WebhookEvent]
) -> None:
    client: Client = request.getfixturevalue(who)
    event = events[0]

    assert client.get(reverse("admin:campaigns_webhookevent_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:campaigns_webhookevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    client.post(
        reverse("admin:campaigns_webhookevent_change", args=[event.pk]), {"result": "failed"}
    )

    event.refresh_from_db()
    assert event.result == WebhookEvent.Result.PROCESSED
    assert WebhookEvent.objects.count() == 2


def test_the_event_list_filters_by_result(
    auditor_client: Client, events: list[WebhookEvent]
) -> None:
    response = auditor_client.get(
        reverse("admin:campaigns_webhookevent_changelist"), {"result__exact": "bad_signature"}
    )

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [events[1]]
