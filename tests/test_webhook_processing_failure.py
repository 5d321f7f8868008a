"""When processing a valid payload fails, the raw body is kept and Meta is asked to retry."""

from __future__ import annotations

import pytest
from django.test import Client

from campaigns.models import Recipient, WebhookEvent
from campaigns.webhooks import process_event
from tests.factories import make_campaign
from tests.webhook_payloads import payload, post_signed, sent_recipients, status

pytestmark = pytest.mark.django_db


def test_a_processing_error_rolls_back_keeps_the_body_and_answers_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr("campaigns.delivery._store_unmatched", broken)
    body = payload([status(recipient.wamid, "read"), status("wamid.UNKNOWN", "read")])

    response = post_signed(Client(), body)

    assert response.status_code == 503
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.SENT  # the read was rolled back with the rest
    event = WebhookEvent.objects.get()
    assert event.result == WebhookEvent.Result.FAILED
    assert "database hiccup" in event.error
    assert b"wamid.UNKNOWN" in bytes(event.body)

    monkeypatch.undo()
    receipt = process_event(event)

    assert (receipt.http_status, receipt.result) == (200, WebhookEvent.Result.PROCESSED)
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.READ
