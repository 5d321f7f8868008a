"""Meta's webhook payload shapes (from shared/reference/whatsapp-cloud-api.md) and signed POSTs."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.test import Client

from campaigns.whatsapp.signature import sign_body

URL = "/webhooks/whatsapp/"
PHONE_NUMBER_ID = "106540352242922"  # pytest-env's WHATSAPP_PHONE_NUMBER_ID
OTHER_PHONE_NUMBER_ID = "999999999999999"
WABA_ID = "102290129340398"
TS = 1751142888  # the reference's timestamp


def status(
    wamid: str,
    status: str,
    *,
    timestamp: int | str = TS,
    recipient_id: str | None = "6281200000000",
    recipient_user_id: str | None = None,
    code: int | None = None,
    title: str = "",
    details: str = "",
) -> dict[str, Any]:
    """One entry of ``statuses``; ``recipient_id=None`` leaves the phone out (since 2026)."""
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(timestamp)}
    if recipient_id is not None:
        item["recipient_id"] = recipient_id
    if recipient_user_id is not None:
        item["recipient_user_id"] = recipient_user_id
    if code is not None:
        item["errors"] = [
            {
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
                "href": "/documentation/business-messaging/whatsapp/support/error-codes",
            }
        ]
    return item


def inbound_text(sender: str, text: str, *, wamid: str = "wamid.IN1") -> dict[str, Any]:
    return {
        "from": sender.lstrip("+"),
        "id": wamid,
        "timestamp": str(TS),
        "type": "text",
        "text": {"body": text},
    }


def payload(
    statuses: list[dict[str, Any]] | None = None,
    *,
    messages: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """One entry, one change, in Meta's envelope."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
    }
    if statuses is not None:
        value["statuses"] = statuses
    if messages is not None:
        value["messages"] = messages
        value["contacts"] = [
            {"profile": {"name": "Budi"}, "wa_id": message["from"]} for message in messages
        ]
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }


def encode(data: object) -> bytes:
    return json.dumps(data).encode()


def post_signed(client: Client, body: bytes | dict[str, Any], *, secret: str | None = None) -> Any:
    raw = body if isinstance(body, bytes) else encode(body)
    signature = sign_body(
        raw, app_secret=secret if secret is not None else settings.WHATSAPP_APP_SECRET
    )
    return client.post(
        URL, data=raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )


def post_unsigned(client: Client, body: bytes | dict[str, Any], **headers: str) -> Any:
    raw = body if isinstance(body, bytes) else encode(body)
    return client.post(URL, data=raw, content_type="application/json", **headers)


def sent_recipients(campaign: Any, count: int, *, start: int = 0) -> list[Any]:
    """``count`` recipients WhatsApp accepted, with wamids ``wamid.T<n>``; counters kept right."""
    from django.utils import timezone

    from campaigns.models import Recipient
    from tests.factories import add_recipients

    rows = add_recipients(campaign, count, status=Recipient.Status.SENT, start=start)
    now = timezone.now()
    for row in rows:
        row.wamid = f"wamid.T{row.phone_number[1:]}"
        row.sent_at = now
    Recipient.objects.bulk_update(rows, ["wamid", "sent_at"])
    return rows


def wa_id(recipient: Any) -> str:
    return str(recipient.phone_number).lstrip("+")
