"""Delivery statuses from WhatsApp applied to recipients: only forward, idempotent, in bulk.

Statuses arrive out of order and more than once. A recipient only ever moves forward along
sent < failed < delivered < read: a late "delivered" never overwrites "read", a "failed"
after "delivered" does not undo the delivery (a delivery or a read proves the message
arrived, so it wins over a failure reported out of order). Each status's own time is kept.

A status whose wamid no recipient has is stored as an :class:`UnmatchedStatus`. It is applied
when a recipient gets that wamid (the status arrived before the send result was written), or
it resolves the one ``in_doubt`` recipient with the same phone number: the message was sent
after all. Those resolutions are audited as done by the system.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connection
from django.db.models import Field
from django.db.models.expressions import RawSQL
from django.utils import timezone

from campaigns import audit, stats
from campaigns.models import Campaign, Recipient, UnmatchedStatus

SENT, DELIVERED, READ, FAILED = "sent", "delivered", "read", "failed"
WEBHOOK_STATUSES = (SENT, DELIVERED, READ, FAILED)
# How far along a recipient is; a status only applies when it ranks higher.
_STATUS_RANK: dict[str, int] = {
    Recipient.Status.PENDING: 0,
    Recipient.Status.SENDING: 0,
    Recipient.Status.IN_DOUBT: 0,
    Recipient.Status.SENT: 1,
    Recipient.Status.FAILED: 2,
    Recipient.Status.DELIVERED: 3,
    Recipient.Status.READ: 4,
}
_TIME_FIELD = {SENT: "sent_at", DELIVERED: "delivered_at", READ: "read_at", FAILED: "failed_at"}
_UPDATED_FIELDS = [
    "status",
    "wamid",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error_code",
    "error_message",
    "error_details",
    "updated_at",
]
_LOADED_FIELDS = ("pk", "campaign_id", "phone_number", *_UPDATED_FIELDS[:-1], "claimed_at")
# A status older than the claim of an in-doubt recipient (beyond clock skew) is not about it.
CLOCK_SKEW = timedelta(minutes=5)
ERROR_TEXT_MAX = 2000
OPT_OUT_ERROR_CODE = 131050
BULK_UPDATE_BATCH = 1000
SQLITE_UPDATE_BATCH = 100


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One entry of a webhook's ``statuses`` array, already checked and cleaned."""

    wamid: str
    status: str
    timestamp: datetime | None = None
    recipient_wa_id: str = ""
    recipient_user_id: str = ""
    phone_number_id: str = ""
    error_code: int | None = None
    error_title: str = ""
    error_details: str = ""


@dataclass
class StatusSummary:
    """What applying a set of statuses did."""

    received: int = 0
    changed: int = 0
    unchanged: int = 0
    unknown: int = 0
    resolved_in_doubt: int = 0
    # (phone number, where from) of recipients whose failure was error 131050.
    opted_out: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "statuses": self.received,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "unknown": self.unknown,
            "resolved_in_doubt": self.resolved_in_doubt,
            "opted_out": len(self.opted_out),
        }


def apply_statuses(
    updates: Sequence[StatusUpdate], *, event_id: int | None = None
) -> StatusSummary:
    """Apply statuses to the recipients with their wamids; keep the rest as unmatched.

    Call inside a transaction: the recipients are locked (in id order, so concurrent
    webhooks cannot deadlock) and every counter moves in the same transaction.
    """
    summary = StatusSummary(received=len(updates))
    by_wamid: dict[str, list[StatusUpdate]] = defaultdict(list)
    for update in updates:
        by_wamid[update.wamid].append(update)
    rows = _lock_by_wamid(list(by_wamid))
    writer = _Writer()
    for wamid, row in rows.items():
        if writer.merge(row, by_wamid[wamid]):
            summary.changed += 1
        else:
            summary.unchanged += 1
        summary.opted_out.extend(_opt_outs(row.phone_number, by_wamid[wamid]))
    unknown = [update for update in updates if update.wamid not in rows]
    summary.unknown = len(unknown)
    if unknown:
        _store_unmatched(unknown, event_id=event_id)
        summary.opted_out.extend(
            (f"+{update.recipient_wa_id}", update.wamid)
            for update in unknown
            if _is_opt_out(update) and update.recipient_wa_id
        )
        candidates = _lock_in_doubt_by_phone(
            {f"+{update.recipient_wa_id}" for update in unknown if update.recipient_wa_id}
        )
        summary.resolved_in_doubt = _resolve_in_doubt(
            candidates, _open_unmatched(wamids={update.wamid for update in unknown}), writer
        )
    writer.save()
    return summary


def apply_stored_statuses(*, wamids: Iterable[str]) -> int:
    """Apply unmatched statuses of these wamids now that recipients have them; call in a
    transaction. Returns how many recipients changed."""
    stored = _open_unmatched(wamids=set(wamids))
    if not stored:
        return 0
    by_wamid: dict[str, list[UnmatchedStatus]] = defaultdict(list)
    for status in stored:
        by_wamid[status.wamid].append(status)
    rows = _lock_by_wamid(list(by_wamid))
    writer = _Writer()
    changed = 0
    for wamid, row in rows.items():
        changed += writer.merge(row, [_as_update(status) for status in by_wamid[wamid]])
        writer.mark_matched(by_wamid[wamid], row)
    writer.save()
    return changed


def resolve_in_doubt_from_stored(*, recipient_ids: Iterable[int] | None = None) -> int:
    """Resolve in-doubt recipients (these, or all) from unmatched statuses to their number.

    Call inside a transaction. Returns how many were resolved.
    """
    query = Recipient.objects.filter(status=Recipient.Status.IN_DOUBT, wamid__isnull=True)
    if recipient_ids is not None:
        query = query.filter(pk__in=list(recipient_ids))
    phones = set(query.values_list("phone_number", flat=True))
    if not phones:
        return 0
    stored = list(
        UnmatchedStatus.objects.filter(
            recipient_id__isnull=True, recipient_wa_id__in=[phone[1:] for phone in phones]
        )
    )
    if not stored:
        return 0
    candidates = _lock_in_doubt_by_phone(phones)
    writer = _Writer()
    resolved = _resolve_in_doubt(candidates, stored, writer)
    writer.save()
    return resolved


def reconcile_unmatched() -> int:
    """Apply every open unmatched status that now has a recipient; for the periodic task."""
    open_wamids = UnmatchedStatus.objects.filter(recipient_id__isnull=True).values("wamid")
    wamids = Recipient.objects.filter(wamid__in=open_wamids).values_list("wamid", flat=True)
    return (
        apply_stored_statuses(wamids=[wamid for wamid in wamids if wamid])
        + resolve_in_doubt_from_stored()
    )


# --- merging ------------------------------------------------------------------------------
class _Writer:
    """Collects changed recipients, counter moves and matched statuses; writes them at once."""

    def __init__(self) -> None:
        self.now = timezone.now()
        self.rows: dict[int, Recipient] = {}
        self.delta: dict[int, Counter[str]] = defaultdict(Counter)
        self.matched: list[UnmatchedStatus] = []
        # campaign id -> {phone: resulting status} of in-doubt rows resolved here.
        self.resolutions: dict[int, dict[str, str]] = defaultdict(dict)

    def merge(self, row: Recipient, updates: Iterable[StatusUpdate]) -> bool:
        """Apply ``updates`` to ``row`` in memory; True when anything changed."""
        before = row.status
        changed = False
        for update in sorted(updates, key=_update_order):
            changed = _merge_one(row, update, now=self.now) or changed
        if changed:
            row.updated_at = self.now
            self.rows[row.pk] = row
            if row.status != before:
                self.delta[row.campaign_id][before] -= 1
                self.delta[row.campaign_id][row.status] += 1
        return changed

    def mark_matched(self, statuses: Iterable[UnmatchedStatus], row: Recipient) -> None:
        for status in statuses:
            status.recipient_id = row.pk
            status.matched_at = self.now
            self.matched.append(status)

    def save(self) -> None:
        if self.rows:
            write_rows(sorted(self.rows.values(), key=lambda row: row.pk))
        for campaign_id in sorted(self.delta):
            stats.shift(campaign_id, self.delta[campaign_id])
        if self.matched:
            UnmatchedStatus.objects.bulk_update(self.matched, ["recipient_id", "matched_at"])
        for campaign_id, phones in sorted(self.resolutions.items()):
            audit.record(
                action="recipients.resolve_in_doubt",
                actor=None,
                obj=Campaign.objects.filter(pk=campaign_id).first(),
                details={
                    "campaign_id": campaign_id,
                    "resolution": "webhook",
                    "via": "webhook",
                    "count": len(phones),
                    "recipients": dict(sorted(phones.items())[:500]),
                },
            )


def write_rows(rows: Sequence[Recipient]) -> None:
    """Write the merged fields of locked recipients in as few statements as possible.

    ``bulk_update`` builds one CASE per field with a branch per row (seconds of Python for a
    thousand rows), and a thousand rows of parameters cost the driver more than the database;
    on PostgreSQL one ``UPDATE … FROM jsonb_to_recordset(%s)`` with a single JSON parameter
    per thousand rows does the same in milliseconds.
    """
    if connection.vendor != "postgresql":
        Recipient.objects.bulk_update(rows, _UPDATED_FIELDS, batch_size=SQLITE_UPDATE_BATCH)
        return
    fields = [cast(Field, Recipient._meta.get_field(name)) for name in _UPDATED_FIELDS]
    sql = _update_from_json_sql(fields)
    for start in range(0, len(rows), BULK_UPDATE_BATCH):
        records = [
            {
                "id": row.pk,
                **{f.column: _json_value(getattr(row, f.attname)) for f in fields},
            }
            for row in rows[start : start + BULK_UPDATE_BATCH]
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, [json.dumps(records)])


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _update_from_json_sql(fields: Sequence[Field[Any, Any]]) -> str:
    """``UPDATE recipient SET f = v.f … FROM jsonb_to_recordset(%s) AS v(id bigint, f type …)``.

    Only names and types from the model go into the text; the values are one JSON parameter.
    """
    quote = connection.ops.quote_name
    columns = [str(f.column) for f in fields]
    definitions = ", ".join(
        ['"id" bigint', *(f"{quote(str(f.column))} {f.db_type(connection)}" for f in fields)]
    )
    assignments = ", ".join(f"{quote(column)} = v.{quote(column)}" for column in columns)
    table = quote(Recipient._meta.db_table)
    return (
        f"UPDATE {table} AS r SET {assignments} "  # noqa: S608
        f"FROM jsonb_to_recordset(%s::jsonb) AS v({definitions}) "
        'WHERE r."id" = v."id"'
    )


def _update_order(update: StatusUpdate) -> tuple[int, float]:
    when = update.timestamp.timestamp() if update.timestamp else 0.0
    return _STATUS_RANK[update.status], when


def _merge_one(row: Recipient, update: StatusUpdate, *, now: datetime) -> bool:
    when = update.timestamp or now
    changed = False
    moves = _STATUS_RANK[update.status] > _STATUS_RANK[row.status]
    if update.status != FAILED:
        # Each status's own time, even when it arrives after a later one (delivered after read).
        time_field = _TIME_FIELD[update.status]
        if getattr(row, time_field) is None:
            setattr(row, time_field, when)
            changed = True
    if moves:
        row.status = update.status
        changed = True
        if update.status == FAILED:
            row.failed_at = when
            row.error_code = update.error_code
            row.error_message = update.error_title[:ERROR_TEXT_MAX]
            row.error_details = update.error_details[:ERROR_TEXT_MAX]
    return changed


def _is_opt_out(update: StatusUpdate) -> bool:
    return update.status == FAILED and update.error_code == OPT_OUT_ERROR_CODE


def _opt_outs(phone: str, updates: Iterable[StatusUpdate]) -> list[tuple[str, str]]:
    return [(phone, update.wamid) for update in updates if _is_opt_out(update)][:1]


# --- loading and storing ------------------------------------------------------------------
def _lock_by_wamid(wamids: list[str]) -> dict[str, Recipient]:
    if not wamids:
        return {}
    rows = (
        Recipient.objects.select_for_update()
        .filter(wamid__in=_values(wamids))
        .order_by("pk")
        .only(*_LOADED_FIELDS)
    )
    return {row.wamid: row for row in rows if row.wamid is not None}


def _values(wamids: list[str]) -> list[str] | RawSQL:
    """The wamids for an ``__in`` filter; on PostgreSQL one array parameter, not a thousand."""
    if connection.vendor != "postgresql":
        return wamids
    return RawSQL("SELECT unnest(%s::varchar[])", (wamids,))


def _lock_in_doubt_by_phone(phones: set[str]) -> dict[str, list[Recipient]]:
    if not phones:
        return {}
    rows = (
        Recipient.objects.select_for_update()
        .filter(status=Recipient.Status.IN_DOUBT, wamid__isnull=True, phone_number__in=phones)
        .order_by("pk")
        .only(*_LOADED_FIELDS)
    )
    by_phone: dict[str, list[Recipient]] = defaultdict(list)
    for row in rows:
        by_phone[row.phone_number].append(row)
    return by_phone


def _store_unmatched(updates: list[StatusUpdate], *, event_id: int | None) -> None:
    now = timezone.now()
    rows = [
        UnmatchedStatus(
            wamid=update.wamid,
            status=update.status,
            timestamp=update.timestamp,
            recipient_wa_id=update.recipient_wa_id,
            recipient_user_id=update.recipient_user_id,
            phone_number_id=update.phone_number_id,
            error_code=update.error_code,
            error_title=update.error_title,
            error_details=update.error_details,
            received_at=now,
            event_id=event_id,
        )
        for update in sorted(updates, key=lambda update: (update.wamid, update.status))
    ]
    # A replay of a stored status is the same fact (unique wamid + status): kept once.
    UnmatchedStatus.objects.bulk_create(rows, ignore_conflicts=True)


def _open_unmatched(*, wamids: set[str]) -> list[UnmatchedStatus]:
    if not wamids:
        return []
    return list(
        UnmatchedStatus.objects.filter(recipient_id__isnull=True, wamid__in=wamids).order_by("pk")
    )


def _as_update(status: UnmatchedStatus) -> StatusUpdate:
    return StatusUpdate(
        wamid=status.wamid,
        status=status.status,
        timestamp=status.timestamp,
        recipient_wa_id=status.recipient_wa_id,
        recipient_user_id=status.recipient_user_id,
        phone_number_id=status.phone_number_id,
        error_code=status.error_code,
        error_title=status.error_title,
        error_details=status.error_details,
    )


# --- in-doubt resolution ------------------------------------------------------------------
def _resolve_in_doubt(
    candidates: dict[str, list[Recipient]], stored: list[UnmatchedStatus], writer: _Writer
) -> int:
    """Give each in-doubt recipient the one unknown message sent to its number, if exactly one.

    Only statuses from our own sender count, and only when there is no doubt which message
    and which recipient they are about: one wamid for the number, one in-doubt recipient,
    and the status not older than that recipient's claim.
    """
    own_sender = settings.WHATSAPP_PHONE_NUMBER_ID
    by_phone: dict[str, dict[str, list[UnmatchedStatus]]] = defaultdict(lambda: defaultdict(list))
    for status in stored:
        if (
            status.status in WEBHOOK_STATUSES
            and status.recipient_wa_id
            and own_sender
            and status.phone_number_id == own_sender
        ):
            by_phone[f"+{status.recipient_wa_id}"][status.wamid].append(status)
    resolved = 0
    for phone, rows in candidates.items():
        messages = by_phone.get(phone, {})
        if len(rows) != 1 or len(messages) != 1:
            continue
        row = rows[0]
        ((wamid, statuses),) = messages.items()
        if not _after_claim(row, statuses):
            continue
        row.wamid = wamid
        writer.merge(row, [_as_update(status) for status in statuses])
        writer.rows[row.pk] = row
        writer.mark_matched(statuses, row)
        writer.resolutions[row.campaign_id][phone] = row.status
        resolved += 1
    return resolved


def _after_claim(row: Recipient, statuses: Iterable[UnmatchedStatus]) -> bool:
    if row.claimed_at is None:
        return True
    earliest = min(
        (status.timestamp for status in statuses if status.timestamp is not None), default=None
    )
    return earliest is None or earliest >= row.claimed_at - CLOCK_SKEW
