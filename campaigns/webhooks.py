"""WhatsApp webhooks: signature check, raw storage, parsing, and what each payload changes.

Order of work for a POST: the raw body is stored first (flagged with whether its signature
is right), so nothing Meta sent is lost; an unsigned or wrongly signed body changes nothing
else (403); a body that is not a webhook payload gets 400; a good one is applied in one
transaction — delivery statuses (:mod:`campaigns.delivery`), opt-out replies and error 131050
(:mod:`campaigns.suppression`) — and gets 200.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import delivery, suppression
from campaigns.delivery import StatusUpdate
from campaigns.models import Suppression, WebhookEvent
from campaigns.whatsapp.signature import signature_matches

logger = logging.getLogger(__name__)

WHATSAPP_OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"
# Longest values the schema keeps; longer ones cannot be Meta's and are skipped or cut.
WAMID_MAX = 128
WA_ID_MAX = 32
USER_ID_MAX = 128
PHONE_NUMBER_ID_MAX = 64
TEXT_MAX = 2000
# Unix seconds up to the year 9999.
_TIMESTAMP_MAX = 253_402_300_799
PURGE_CHUNK = 1000


class MalformedPayload(ValueError):
    """The body is not a WhatsApp webhook payload (not a JSON object with an ``entry`` list)."""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a user sent to our number; only its text matters here."""

    wamid: str
    sender_wa_id: str
    text: str


@dataclass
class Payload:
    statuses: list[StatusUpdate] = field(default_factory=list)
    messages: list[InboundMessage] = field(default_factory=list)
    # Entries that were not understood (wrong types, unknown status values …): skipped.
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class Receipt:
    """The answer for Meta and the stored event."""

    http_status: int
    event_id: int
    result: str


# --- the endpoint's work ------------------------------------------------------------------
def verify_subscription(*, mode: str | None, token: str | None, challenge: str | None) -> bool:
    """Whether a GET verification request may have its challenge echoed back."""
    expected = settings.WHATSAPP_WEBHOOK_VERIFY_TOKEN
    if mode != "subscribe" or not expected or token is None or challenge is None:
        return False
    return hmac.compare_digest(token.encode(), expected.encode())


def receive(*, body: bytes, signature: str | None, ip_address: str | None = None) -> Receipt:
    """Store one POSTed body, check its signature and process it; the HTTP answer to give."""
    valid = signature_matches(body, signature, app_secret=settings.WHATSAPP_APP_SECRET)
    event = WebhookEvent.objects.create(
        body=body,
        signature_valid=valid,
        result=WebhookEvent.Result.RECEIVED if valid else WebhookEvent.Result.BAD_SIGNATURE,
        ip_address=ip_address,
    )
    if not valid:
        logger.warning(
            "webhook %s rejected: %s signature", event.pk, "wrong" if signature else "missing"
        )
        return Receipt(403, event.pk, event.result)
    return process_event(event)


def process_event(event: WebhookEvent) -> Receipt:
    """Parse and apply a stored, correctly signed event (again, if need be: it is idempotent)."""
    try:
        payload = parse_payload(bytes(event.body))
    except MalformedPayload as exc:
        _finish(event, WebhookEvent.Result.MALFORMED, error=str(exc))
        return Receipt(400, event.pk, event.result)
    try:
        with transaction.atomic():
            summary = apply_payload(payload, event_id=event.pk)
            _finish(event, WebhookEvent.Result.PROCESSED, summary=summary)
    except Exception as exc:
        # The raw body is kept: the event can be processed again once the cause is fixed.
        # 503 makes Meta deliver it again later (applying it twice changes nothing).
        logger.exception("webhook %s could not be processed", event.pk)
        _finish(event, WebhookEvent.Result.FAILED, error=f"{type(exc).__name__}: {exc}")
        return Receipt(503, event.pk, event.result)
    return Receipt(200, event.pk, event.result)


def apply_payload(payload: Payload, *, event_id: int | None = None) -> dict[str, int]:
    """Apply statuses and opt-outs of one payload; call inside a transaction."""
    status_summary = delivery.apply_statuses(payload.statuses, event_id=event_id)
    suppressed = 0
    for phone, wamid in status_summary.opted_out:
        suppressed += _suppress(phone, reason=Suppression.Reason.MARKETING_OPT_OUT, detail=wamid)
    opt_outs = 0
    for message in payload.messages:
        word = suppression.opt_out_word(message.text)
        if word is None or not message.sender_wa_id:
            continue
        opt_outs += 1
        suppressed += _suppress(
            f"+{message.sender_wa_id}", reason=Suppression.Reason.OPT_OUT_WORD, detail=word
        )
    return {
        **status_summary.as_dict(),
        "messages": len(payload.messages),
        "opt_out_messages": opt_outs,
        "suppressed": suppressed,
        "skipped": payload.skipped,
    }


def on_batch_recorded(
    *,
    campaign_id: int,
    sent_wamids: Iterable[str],
    in_doubt_ids: Iterable[int],
    opted_out: Iterable[str],
) -> None:
    """The engine wrote a batch: apply statuses that came early, suppress 131050 numbers.

    Call inside the engine's transaction. A status can reach us before the send result that
    gives the recipient its wamid, and a message the engine holds in doubt may already have
    reported its delivery.
    """
    wamids = [wamid for wamid in sent_wamids if wamid]
    if wamids:
        delivery.apply_stored_statuses(wamids=wamids)
    doubtful = list(in_doubt_ids)
    if doubtful:
        delivery.resolve_in_doubt_from_stored(recipient_ids=doubtful)
    for phone in opted_out:
        _suppress(
            phone,
            reason=Suppression.Reason.MARKETING_OPT_OUT,
            detail=_("campaign #%(id)s") % {"id": campaign_id},
            source=Suppression.Source.SEND_RESULT,
        )


def housekeeping() -> dict[str, int]:
    """The periodic task: apply statuses that found their recipient, purge old payloads."""
    with transaction.atomic():
        reconciled = delivery.reconcile_unmatched()
    return {"reconciled": reconciled, "purged": purge_old_events()}


def purge_old_events(*, days: int | None = None, now: datetime | None = None) -> int:
    """Delete stored payloads older than ``days`` (default ``WEBHOOK_RETENTION_DAYS``)."""
    keep_days = settings.WEBHOOK_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    purged = 0
    while True:
        ids = list(
            WebhookEvent.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[
                :PURGE_CHUNK
            ]
        )
        if not ids:
            return purged
        with transaction.atomic():
            # only("pk"): the collector must not load the raw bodies to delete them.
            deleted = WebhookEvent.objects.filter(pk__in=ids).only("pk").delete()[1]
            purged += deleted.get(WebhookEvent._meta.label, 0)


def _suppress(
    phone: str,
    *,
    reason: str,
    detail: str,
    source: str = Suppression.Source.WEBHOOK,
) -> int:
    try:
        row = suppression.suppress(phone_number=phone, reason=reason, source=source, detail=detail)
    except ValueError:
        logger.warning("not suppressing %r: not an E.164 number", phone)
        return 0
    return 1 if row is not None else 0


def _finish(
    event: WebhookEvent,
    result: str,
    *,
    summary: dict[str, int] | None = None,
    error: str = "",
) -> None:
    event.result = result
    event.summary = summary or {}
    event.error = _clean(error, TEXT_MAX)
    event.processed_at = timezone.now()
    event.save(update_fields=["result", "summary", "error", "processed_at"])


# --- parsing ------------------------------------------------------------------------------
def parse_payload(body: bytes) -> Payload:
    """Read a webhook body; raise :class:`MalformedPayload` when it is not a payload at all.

    Inside a well-formed payload every item is checked on its own: one odd status is
    skipped and counted rather than making Meta resend the other 999 for days.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedPayload(_("the body is not JSON")) from exc
    if not isinstance(data, dict):
        raise MalformedPayload(_("the body is not a JSON object"))
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload(_("the payload has no 'entry' list"))
    payload = Payload()
    if data.get("object", WHATSAPP_OBJECT) != WHATSAPP_OBJECT:
        payload.skipped = len(entries)
        return payload
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            payload.skipped += 1
            continue
        for change in changes:
            _parse_change(change, payload)
    return payload


def _parse_change(change: object, payload: Payload) -> None:
    value = change.get("value") if isinstance(change, dict) else None
    if not isinstance(change, dict) or not isinstance(value, dict):
        payload.skipped += 1
        return
    if change.get("field", MESSAGES_FIELD) != MESSAGES_FIELD:
        payload.skipped += 1
        return
    metadata = value.get("metadata")
    phone_number_id = _text(metadata.get("phone_number_id")) if isinstance(metadata, dict) else ""
    for item in _list(value.get("statuses")):
        status = _parse_status(item, phone_number_id=phone_number_id)
        if status is None:
            payload.skipped += 1
        else:
            payload.statuses.append(status)
    for item in _list(value.get("messages")):
        message = _parse_message(item)
        if message is None:
            payload.skipped += 1
        else:
            payload.messages.append(message)


def _parse_status(item: object, *, phone_number_id: str) -> StatusUpdate | None:
    if not isinstance(item, dict):
        return None
    wamid = _text(item.get("id"))
    status = item.get("status")
    if not wamid or len(wamid) > WAMID_MAX or status not in delivery.WEBHOOK_STATUSES:
        return None
    code, title, details = _first_error(item.get("errors"))
    return StatusUpdate(
        wamid=wamid,
        status=status,
        timestamp=_timestamp(item.get("timestamp")),
        recipient_wa_id=_wa_id(item.get("recipient_id")),
        recipient_user_id=_text(item.get("recipient_user_id"))[:USER_ID_MAX],
        phone_number_id=phone_number_id[:PHONE_NUMBER_ID_MAX],
        error_code=code,
        error_title=title,
        error_details=details,
    )


def _parse_message(item: object) -> InboundMessage | None:
    if not isinstance(item, dict):
        return None
    return InboundMessage(
        wamid=_text(item.get("id"))[:WAMID_MAX],
        sender_wa_id=_wa_id(item.get("from")),
        text=_message_text(item),
    )


def _message_text(item: Mapping[str, Any]) -> str:
    """The words of a text message, a quick-reply button or an interactive reply."""
    text = item.get("text")
    if isinstance(text, dict) and isinstance(text.get("body"), str):
        return _clean(text["body"], TEXT_MAX)
    button = item.get("button")
    if isinstance(button, dict) and isinstance(button.get("text"), str):
        return _clean(button["text"], TEXT_MAX)
    interactive = item.get("interactive")
    if isinstance(interactive, dict):
        for kind in ("button_reply", "list_reply"):
            reply = interactive.get(kind)
            if isinstance(reply, dict) and isinstance(reply.get("title"), str):
                return _clean(reply["title"], TEXT_MAX)
    return ""


def _first_error(errors: object) -> tuple[int | None, str, str]:
    error = next((e for e in _list(errors) if isinstance(e, dict)), None)
    if error is None:
        return None, "", ""
    error_data = error.get("error_data")
    details = _text(error_data.get("details")) if isinstance(error_data, dict) else ""
    title = _text(error.get("title")) or _text(error.get("message"))
    return _code(error.get("code")), title[:TEXT_MAX], details[:TEXT_MAX]


def _timestamp(value: object) -> datetime | None:
    """A string (or number) of Unix seconds as an aware datetime; None when unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        seconds = int(value.strip())
    elif isinstance(value, int):
        seconds = value
    else:
        return None
    if not 0 < seconds <= _TIMESTAMP_MAX:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
        return int(value)
    # An IntegerField holds 32 bits.
    return value if isinstance(value, int) and -(2**31) <= value < 2**31 else None


def _wa_id(value: object) -> str:
    """A WhatsApp id (the number's digits, without +), or "" when absent or not digits."""
    text = _text(value).lstrip("+")
    return text if text.isascii() and text.isdigit() and len(text) <= WA_ID_MAX else ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return _clean(value, TEXT_MAX) if isinstance(value, str) else ""


def _clean(text: str, limit: int) -> str:
    """Text PostgreSQL can store: no NUL characters, no lone surrogates, at most ``limit``."""
    text = text.replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]
