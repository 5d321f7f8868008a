"""A campaign's recipients as CSV rows, streamed from the database."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from campaigns import audit
from campaigns.models import Campaign, Recipient

# Column names are part of the file format (scripts read them), so they are not translated.
EXPORT_HEADER: list[str] = [
    "name",
    "phone",
    "status",
    "attempts",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error_code",
    "error_reason",
    "wamid",
]
EXPORT_CHUNK_SIZE = 2000
# Rows per piece of the streamed response: one write per row would be a million tiny writes.
ROWS_PER_CHUNK = 500
# Excel reads a CSV as UTF-8 only when it starts with a byte-order mark.
BOM = "\ufeff"
# A cell starting with one of these is a formula to Excel; user-typed text (names, provider
# messages) gets a leading apostrophe so opening the export never runs anything.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_EXPORT_FIELDS = (
    "name",
    "phone_number",
    "status",
    "attempts",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error_code",
    "error_message",
    "error_details",
    "wamid",
)


@dataclass(frozen=True)
class CsvExport:
    filename: str
    rows: int
    chunks: Iterator[str]


def start_export(
    *,
    campaign: Campaign,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    request: HttpRequest | None = None,
) -> CsvExport:
    """Audit the export of ``campaign``'s recipients and return the CSV to stream."""
    filename = f"recipients-{campaign.pk}-{timezone.localdate().isoformat()}.csv"
    with transaction.atomic():
        rows = Recipient.objects.filter(campaign=campaign).count()
        audit.record(
            action="recipients.export",
            actor=actor,
            obj=campaign,
            details={"filename": filename, "rows": rows},
            request=request,
        )
    return CsvExport(filename=filename, rows=rows, chunks=iter_csv_chunks(campaign))


def iter_csv_chunks(campaign: Campaign) -> Iterator[str]:
    """The export as CSV text (header first), a few hundred rows per piece."""
    writer = csv.writer(_Echo())
    lines = [BOM + writer.writerow(EXPORT_HEADER)]
    for row in iter_export_rows(campaign):
        lines.append(writer.writerow(row))
        if len(lines) >= ROWS_PER_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def iter_export_rows(campaign: Campaign) -> Iterator[list[str]]:
    """Yield one list of strings per recipient, in id order, matching :data:`EXPORT_HEADER`."""
    rows = (
        Recipient.objects.filter(campaign=campaign)
        .order_by("id")
        .values_list(*_EXPORT_FIELDS)
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )
    for (
        name,
        phone,
        status,
        attempts,
        sent_at,
        delivered_at,
        read_at,
        failed_at,
        error_code,
        error_message,
        error_details,
        wamid,
    ) in rows:
        yield [
            _safe_text(name),
            phone,
            status,
            str(attempts),
            _iso(sent_at),
            _iso(delivered_at),
            _iso(read_at),
            _iso(failed_at),
            "" if error_code is None else str(error_code),
            _safe_text(error_reason(error_message, error_details)),
            wamid or "",
        ]


def error_reason(message: str, details: str) -> str:
    """The provider's error message followed by its details, when there are any."""
    message, details = message.strip(), details.strip()
    if message and details and details != message:
        return f"{message}: {details}"
    return message or details


def _iso(value: dt.datetime | None) -> str:
    return timezone.localtime(value).isoformat() if value is not None else ""


def _safe_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


class _Echo:
    """A file-like object for csv.writer that hands each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value
