"""Meta's payload shapes — single, batched, with or without the phone — and malformed bodies."""

from __future__ import annotations

import copy
import json

import pytest
from django.test import Client

from campaigns.models import Recipient, UnmatchedStatus, WebhookEvent
from campaigns.webhooks import parse_payload
from tests.factories import make_campaign
from tests.webhook_payloads import (
    PHONE_NUMBER_ID,
    WABA_ID,
    encode,
    payload,
    post_signed,
    sent_recipients,
    status,
)

pytestmark = pytest.mark.django_db

# The reference file's failed-status payload, verbatim but for the wamid.
REFERENCE_FAILED = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "statuses": [
                            {
                                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBRkJENzExMTRFRjk2NTI1OTEA",
                                "status": "failed",
                                "timestamp": "1751142888",
                                "recipient_id": "16505551234",
                                "errors": [
                                    {
                                        "code": 131049,
                                        "title": "This message was not delivered to maintain "
                                        "healthy ecosystem engagement.",
                                        "message": "This message was not delivered to maintain "
                                        "healthy ecosystem engagement.",
                                        "error_data": {
                                            "details": "In order to maintain a healthy ecosystem "
                                            "engagement, the message failed to be delivered."
                                        },
                                        "href": "/documentation/business-messaging/whatsapp/"
                                        "support/error-codes",
                                    }
                                ],
                            }
                        ],
                    },
                }
            ],
        }
    ],
}


def test_the_reference_failed_status_fails_the_recipient_with_its_error() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)
    body = copy.deepcopy(REFERENCE_FAILED)
    body["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = recipient.wamid

    response = post_signed(Client(), body)

    assert response.status_code == 200
    recipient.refresh_from_db()
    assert (recipient.status, recipient.error_code) == (Recipient.Status.FAILED, 131049)
    assert "healthy ecosystem" in recipient.error_details


def test_a_batched_post_with_several_entries_and_changes_applies_every_status() -> None:
    campaign = make_campaign()
    recipients = sent_recipients(campaign, 4)
    first = payload([status(recipients[0].wamid, "delivered"), status(recipients[1].wamid, "read")])
    second = payload([status(recipients[2].wamid, "sent")])
    first["entry"][0]["changes"].append(
        payload([status(recipients[3].wamid, "delivered")])["entry"][0]["changes"][0]
    )
    body = {"object": "whatsapp_business_account", "entry": first["entry"] + second["entry"]}

    assert post_signed(Client(), body).status_code == 200

    statuses = dict(Recipient.objects.values_list("wamid", "status"))
    assert statuses == {
        recipients[0].wamid: "delivered",
        recipients[1].wamid: "read",
        recipients[2].wamid: "sent",
        recipients[3].wamid: "delivered",
    }


def test_a_status_without_the_phone_number_but_with_a_user_id_is_applied() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)
    body = payload(
        [
            status(
                recipient.wamid,
                "delivered",
                recipient_id=None,
                recipient_user_id="US.13491208655302741918",
            )
        ]
    )

    assert post_signed(Client(), body).status_code == 200

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.DELIVERED


def test_an_unknown_status_without_the_phone_number_is_kept_with_its_user_id() -> None:
    body = payload([status("wamid.NOPHONE", "read", recipient_id=None, recipient_user_id="US.1")])

    assert post_signed(Client(), body).status_code == 200

    kept = UnmatchedStatus.objects.get()
    assert (kept.wamid, kept.recipient_wa_id, kept.recipient_user_id) == (
        "wamid.NOPHONE",
        "",
        "US.1",
    )


def test_the_parser_reads_metas_shape() -> None:
    parsed = parse_payload(encode(payload([status("wamid.A", "sent", code=None)])))

    (update,) = parsed.statuses
    assert (update.wamid, update.status, update.phone_number_id) == (
        "wamid.A",
        "sent",
        PHONE_NUMBER_ID,
    )
    assert update.timestamp is not None and update.timestamp.year == 2025
    assert parsed.skipped == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'"text"',
        b"{}",
        b'{"object": "whatsapp_business_account"}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        b"[" * 100_000,
    ],
    ids=[
        "empty",
        "text",
        "binary",
        "list",
        "string",
        "no-entry",
        "entry-missing",
        "entry-not-list",
        "deep",
    ],
)
def test_a_correctly_signed_malformed_body_gets_400_and_is_kept(body: bytes) -> None:
    response = post_signed(Client(), body)

    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == body
    assert event.result == WebhookEvent.Result.MALFORMED


def test_odd_items_inside_a_good_payload_are_skipped_not_fatal() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)
    body = payload(
        [
            status(recipient.wamid, "read"),
            {"id": "wamid.X", "status": "played"},
            {"id": 12, "status": "sent"},
            {"id": "w" * 500, "status": "sent"},
            {"status": "sent"},
            "nonsense",
            None,
        ]
    )
    body["entry"].append({"id": WABA_ID, "changes": "nope"})

    response = post_signed(Client(), body)

    assert response.status_code == 200
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.READ
    event = WebhookEvent.objects.get()
    assert event.summary["skipped"] == 6
    assert UnmatchedStatus.objects.filter(wamid="12").exists()


def test_a_payload_for_another_object_is_acknowledged_and_ignored() -> None:
    body = payload([status("wamid.IG", "read")])
    body["object"] = "instagram"

    assert post_signed(Client(), body).status_code == 200
    assert not UnmatchedStatus.objects.exists()


def test_text_that_postgresql_cannot_store_is_cleaned_not_a_crash() -> None:
    raw = json.dumps(
        payload(
            [
                status(
                    "wamid.NUL\u0000",
                    "failed",
                    code=131026,
                    title="bad \u0000 title \ud800",
                    details="\udfff",
                )
            ]
        )
    ).encode()

    assert post_signed(Client(), raw).status_code == 200
    kept = UnmatchedStatus.objects.get()
    assert "\x00" not in kept.wamid and "\x00" not in kept.error_title
