"""A status for a wamid nobody has is kept, and applied once a recipient gets that wamid."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client

from campaigns import stats
from campaigns.models import Recipient, UnmatchedStatus, WebhookEvent
from campaigns.tasks import webhook_housekeeping
from campaigns.webhooks import on_batch_recorded
from tests.factories import add_recipients, make_campaign
from tests.webhook_payloads import OTHER_PHONE_NUMBER_ID, payload, post_signed, status

pytestmark = pytest.mark.django_db


def test_an_unknown_wamid_is_kept_with_everything_it_said() -> None:
    response = post_signed(
        Client(),
        payload(
            [
                status(
                    "wamid.GHOST", "failed", recipient_id="6281299990000", code=131026, title="gone"
                )
            ],
            phone_number_id=OTHER_PHONE_NUMBER_ID,
        ),
    )

    assert response.status_code == 200
    kept = UnmatchedStatus.objects.get()
    assert (kept.wamid, kept.status, kept.recipient_wa_id, kept.phone_number_id) == (
        "wamid.GHOST",
        "failed",
        "6281299990000",
        OTHER_PHONE_NUMBER_ID,
    )
    assert (kept.error_code, kept.error_title, kept.recipient_id) == (131026, "gone", None)
    assert kept.event_id == WebhookEvent.objects.get().pk
    assert WebhookEvent.objects.get().summary["unknown"] == 1


def test_a_replayed_unknown_status_is_kept_once() -> None:
    body = payload([status("wamid.GHOST", "delivered"), status("wamid.GHOST", "read")])
    client = Client()

    post_signed(client, body)
    post_signed(client, body)

    assert sorted(UnmatchedStatus.objects.values_list("status", flat=True)) == ["delivered", "read"]


def make_just_sent_recipient() -> Recipient:
    campaign = make_campaign()
    (recipient,) = add_recipients(campaign, 1, status=Recipient.Status.SENT)
    return recipient


def test_statuses_that_came_before_the_send_result_are_applied_when_it_is_recorded() -> None:
    recipient = make_just_sent_recipient()
    post_signed(
        Client(),
        payload(
            [
                status("wamid.EARLY", "delivered"),
                status("wamid.EARLY", "read", timestamp=1751142900),
            ]
        ),
    )
    # The engine writes the send result (what recording.record_batch does), then calls the hook.
    with transaction.atomic():
        Recipient.objects.filter(pk=recipient.pk).update(wamid="wamid.EARLY")
        on_batch_recorded(
            campaign_id=recipient.campaign_id,
            sent_wamids=["wamid.EARLY"],
            in_doubt_ids=[],
            opted_out=[],
        )

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.READ
    assert recipient.delivered_at is not None and recipient.read_at is not None
    assert set(UnmatchedStatus.objects.values_list("recipient_id", flat=True)) == {recipient.pk}
    assert stats.recount(recipient.campaign_id)["read"] == 1
    recipient.campaign.refresh_from_db()
    assert (recipient.campaign.read_count, recipient.campaign.sent_count) == (1, 0)


def test_the_periodic_housekeeping_applies_statuses_whose_recipient_appeared_later() -> None:
    recipient = make_just_sent_recipient()
    post_signed(Client(), payload([status("wamid.LATE", "delivered")]))
    Recipient.objects.filter(pk=recipient.pk).update(wamid="wamid.LATE")

    result = webhook_housekeeping()

    assert result["reconciled"] == 1
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.DELIVERED
    recipient.campaign.refresh_from_db()
    assert recipient.campaign.delivered_count == 1
    assert webhook_housekeeping()["reconciled"] == 0
