"""CSV/XLSX → normalised recipients of one campaign, written in one transaction.

Two steps, both callable on their own: :func:`parse_recipient_file` turns bytes into
normalised, de-duplicated rows without touching the database; :func:`save_recipients` checks
them against the campaign and writes them with the counters and the audit row.
:func:`import_recipients` is the one the admin and the command call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from psycopg import errors as psycopg_errors

from campaigns import audit, stats
from campaigns.importing.errors import CampaignClosedError, ImportFileError, RecipientImportError
from campaigns.importing.tables import cell_text, find_columns, read_limited, table_rows
from campaigns.importing.writing import ParsedRecipient, insert_recipients
from campaigns.models import Campaign, Recipient
from campaigns.phones import InvalidPhoneNumber, normalise_phone
from campaigns.sending.runs import reopen_campaign

__all__ = [
    "CampaignClosedError",
    "ImportFileError",
    "ImportResult",
    "ParsedFile",
    "ParsedRecipient",
    "RecipientImportError",
    "RejectedRow",
    "cell_text",
    "ensure_campaign_open",
    "import_recipients",
    "insert_recipients",
    "parse_recipient_file",
    "read_limited",
    "save_recipients",
]

# Existing numbers are looked up this many at a time, so a million-row campaign is never
# loaded into memory.
EXISTING_CHECK_CHUNK = 5000
UNIQUE_PHONE_CONSTRAINT = "recipient_unique_phone_per_campaign"
NAME_MAX_LENGTH: int = Recipient._meta.get_field("name").max_length or 255


@dataclass(frozen=True)
class RejectedRow:
    """One row that was not imported, as the operator sees it in the spreadsheet."""

    row_number: int
    value: str
    reason: str


@dataclass(frozen=True)
class ParsedFile:
    """A file read and normalised, unique within itself, not yet checked against a campaign."""

    filename: str
    rows_read: int
    recipients: list[ParsedRecipient]
    rejected: list[RejectedRow]
    duplicates_in_file: int


@dataclass(frozen=True)
class ImportResult:
    """What an import did. ``rejected`` lists every row not imported: invalid or duplicate."""

    filename: str
    rows_read: int
    created: int
    duplicates_in_file: int
    duplicates_existing: int
    rejected: list[RejectedRow]

    @property
    def invalid(self) -> int:
        """Rows rejected for their phone number (not as duplicates)."""
        return len(self.rejected) - self.duplicates_in_file - self.duplicates_existing


def import_recipients(
    *,
    campaign: Campaign,
    fileobj: IO[bytes],
    filename: str,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    request: HttpRequest | None = None,
    via: str | None = None,
) -> ImportResult:
    """Import a CSV or XLSX file into ``campaign``; all or nothing.

    Raises :class:`RecipientImportError` (usually :class:`ImportFileError`) with a message for
    the operator when the file or the campaign does not allow the import; nothing is written.
    """
    ensure_campaign_open(campaign)
    data = read_limited(fileobj, max_bytes=settings.IMPORT_MAX_FILE_BYTES)
    parsed = parse_recipient_file(data=data, filename=filename)
    return save_recipients(campaign=campaign, parsed=parsed, actor=actor, request=request, via=via)


def ensure_campaign_open(campaign: Campaign) -> None:
    if campaign.status == Campaign.Status.CANCELLED:
        raise CampaignClosedError(
            _("Campaign “%(name)s” is cancelled; recipients cannot be imported into it.")
            % {"name": campaign.name}
        )


def parse_recipient_file(*, data: bytes, filename: str, region: str | None = None) -> ParsedFile:
    """Read, normalise and de-duplicate the rows of a CSV or XLSX file (no database access)."""
    rows = table_rows(data, filename)
    header: list[str] | None = None
    for _number, cells in rows:
        texts = [cell_text(cell) for cell in cells]
        if any(texts):
            header = texts
            break
    if header is None:
        raise ImportFileError(_("The file has no rows."))
    phone_col, name_col, variable_cols = find_columns(header)
    width = len(header)

    recipients: list[ParsedRecipient] = []
    rejected: list[RejectedRow] = []
    first_row_of: dict[str, int] = {}
    rows_read = duplicates = 0
    for number, cells in rows:
        texts = [cell_text(cell) for cell in cells]
        if not any(texts):
            continue  # blank lines between and after the data are not rows to report
        texts.extend([""] * (width - len(texts)))
        rows_read += 1
        # The raw cell, not its text: normalise_phone reads numeric XLSX cells itself.
        raw_phone = cells[phone_col] if phone_col < len(cells) else None
        value = texts[phone_col]
        try:
            phone = normalise_phone(raw_phone, region=region)
        except InvalidPhoneNumber as exc:
            rejected.append(RejectedRow(number, value, exc.reason))
            continue
        first = first_row_of.get(phone)
        if first is not None:
            duplicates += 1
            reason = _("duplicate of row %(row)d") % {"row": first}
            rejected.append(RejectedRow(number, value, reason))
            continue
        first_row_of[phone] = number
        name = texts[name_col][:NAME_MAX_LENGTH] if name_col is not None else ""
        variables = {key: texts[index] for index, key in variable_cols if texts[index]}
        recipients.append(ParsedRecipient(number, value, phone, name, variables))

    if rows_read == 0:
        raise ImportFileError(_("The file has a header row but no data rows."))
    return ParsedFile(
        filename=filename,
        rows_read=rows_read,
        recipients=recipients,
        rejected=rejected,
        duplicates_in_file=duplicates,
    )


def save_recipients(
    *,
    campaign: Campaign,
    parsed: ParsedFile,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    request: HttpRequest | None = None,
    via: str | None = None,
) -> ImportResult:
    """Add the parsed rows that are new to ``campaign``, with counters and audit, atomically."""
    try:
        with transaction.atomic():
            # The lock serialises imports into one campaign and makes the status check hold.
            locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
            if locked is None:
                raise ImportFileError(_("Campaign not found"))
            ensure_campaign_open(locked)
            phones = [recipient.phone_number for recipient in parsed.recipients]
            existing = _existing_numbers(locked.pk, phones)
            new = [r for r in parsed.recipients if r.phone_number not in existing]
            insert_recipients(campaign_id=locked.pk, recipients=new)
            stats.shift(locked.pk, {Recipient.Status.PENDING: len(new)})
            if new:
                reopen_campaign(locked.pk)
            already = [
                RejectedRow(r.row_number, r.value, _("already in this campaign"))
                for r in parsed.recipients
                if r.phone_number in existing
            ]
            result = ImportResult(
                filename=parsed.filename,
                rows_read=parsed.rows_read,
                created=len(new),
                duplicates_in_file=parsed.duplicates_in_file,
                duplicates_existing=len(already),
                rejected=sorted(parsed.rejected + already, key=lambda row: row.row_number),
            )
            details: dict[str, Any] = {
                "filename": result.filename,
                "rows": result.rows_read,
                "created": result.created,
                "duplicates_in_file": result.duplicates_in_file,
                "duplicates_existing": result.duplicates_existing,
                "rejected": len(result.rejected),
                "invalid": result.invalid,
            }
            if via:
                details["via"] = via
            audit.record(
                action="recipients.import",
                actor=actor,
                obj=locked,
                details=details,
                request=request,
            )
    except (IntegrityError, OperationalError) as exc:
        if not _is_concurrent_change(exc):
            raise
        raise ImportFileError(
            _(
                "The campaign's recipients changed during the import, so nothing was imported;"
                " please try again."
            )
        ) from exc
    return result


def _existing_numbers(campaign_id: int, phones: Sequence[str]) -> set[str]:
    """Which of ``phones`` the campaign already has, asked a chunk at a time."""
    if not phones or not Recipient.objects.filter(campaign_id=campaign_id).exists():
        return set()
    found: set[str] = set()
    for start in range(0, len(phones), EXISTING_CHECK_CHUNK):
        chunk = phones[start : start + EXISTING_CHECK_CHUNK]
        found.update(
            Recipient.objects.filter(campaign_id=campaign_id, phone_number__in=chunk).values_list(
                "phone_number", flat=True
            )
        )
    return found


def _is_concurrent_change(exc: IntegrityError | OperationalError) -> bool:
    """Did another writer add one of our numbers meanwhile (or deadlock with us doing so)?"""
    cause = exc.__cause__
    if isinstance(cause, psycopg_errors.DeadlockDetected):
        return True
    if not isinstance(exc, IntegrityError):
        return False
    diag = getattr(cause, "diag", None)
    if diag is not None:
        return getattr(diag, "constraint_name", None) == UNIQUE_PHONE_CONSTRAINT
    # SQLite names the columns instead of the constraint.
    return "campaigns_recipient.phone_number" in str(exc)
