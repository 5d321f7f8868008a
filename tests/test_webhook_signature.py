"""A POST without the right X-Hub-Signature-256 gets 403 and changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from campaigns.models import AuditLog, Recipient, Suppression, UnmatchedStatus, WebhookEvent
from campaigns.whatsapp.signature import sign_body, signature_matches
from tests.factories import make_campaign
from tests.webhook_payloads import (
    encode,
    inbound_text,
    payload,
    post_signed,
    post_unsigned,
    sent_recipients,
    status,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def recipient() -> Recipient:
    (row,) = sent_recipients(make_campaign(), 1)
    return row


def body_for(recipient: Recipient) -> bytes:
    return encode(
        payload(
            [status(recipient.wamid or "", "read"), status("wamid.UNKNOWN", "delivered")],
            messages=[inbound_text("+6281299999999", "STOP")],
        )
    )


def state() -> tuple[object, ...]:
    return (
        list(Recipient.objects.order_by("pk").values()),
        Suppression.objects.count(),
        UnmatchedStatus.objects.count(),
        AuditLog.objects.count(),
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_HUB_SIGNATURE_256": ""},
        {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64},
        {"HTTP_X_HUB_SIGNATURE_256": "sha1=abc"},
        {"HTTP_X_HUB_SIGNATURE_256": "sha256=zz\u00e9"},
    ],
    ids=["missing", "empty", "wrong", "other-algorithm", "not-hex"],
)
def test_a_missing_or_wrong_signature_gets_403_and_changes_nothing(
    recipient: Recipient, headers: dict[str, str]
) -> None:
    before = state()

    response = post_unsigned(Client(), body_for(recipient), **headers)

    assert response.status_code == 403
    assert state() == before
    event = WebhookEvent.objects.get()
    assert (event.signature_valid, event.result) == (False, WebhookEvent.Result.BAD_SIGNATURE)


def test_a_body_signed_with_another_secret_gets_403(recipient: Recipient) -> None:
    before = state()

    response = post_signed(Client(), body_for(recipient), secret="someone-elses-secret")

    assert response.status_code == 403
    assert state() == before


def test_a_signature_of_a_different_body_gets_403(recipient: Recipient, settings) -> None:  # type: ignore[no-untyped-def]
    body = body_for(recipient)
    signature = sign_body(body + b" ", app_secret=settings.WHATSAPP_APP_SECRET)

    response = post_unsigned(Client(), body, HTTP_X_HUB_SIGNATURE_256=signature)

    assert response.status_code == 403
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.SENT


def test_the_right_signature_is_accepted_and_applied(recipient: Recipient) -> None:
    response = post_signed(Client(), body_for(recipient))

    assert response.status_code == 200
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.READ
    event = WebhookEvent.objects.get()
    assert (event.signature_valid, event.result) == (True, WebhookEvent.Result.PROCESSED)


def test_without_an_app_secret_every_post_is_refused(recipient: Recipient, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WHATSAPP_APP_SECRET = ""

    # An HMAC keyed with the empty secret is something anyone can compute.
    response = post_signed(Client(), body_for(recipient), secret="")

    assert response.status_code == 403
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.SENT


def test_the_signature_is_compared_on_the_raw_bytes() -> None:
    body = b'{"entry": []}'
    header = sign_body(body, app_secret="s3cret")

    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert signature_matches(body, header, app_secret="s3cret")
    assert signature_matches(body, header.upper(), app_secret="s3cret")
    assert not signature_matches(b'{"entry":[]}', header, app_secret="s3cret")
    assert not signature_matches(body, None, app_secret="s3cret")
