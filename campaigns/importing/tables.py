"""Uploaded bytes → spreadsheet rows: CSV or XLSX detection, decoding, columns, cell text."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import IO

import openpyxl
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from campaigns.importing.errors import ImportFileError

PHONE_HEADER_WORDS = ("phone", "nomor")
NAME_HEADER_WORDS = ("name", "nama")
CSV_DELIMITERS = (",", ";", "\t")
CSV_EXTENSIONS = frozenset({".csv", ".txt", ".tsv"})
XLSX_EXTENSIONS = frozenset({".xlsx", ".xlsm"})
ZIP_MAGIC = b"PK\x03\x04"
# Signatures of files people upload by mistake: old .xls (OLE2), PDF, PNG, JPEG, GIF.
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OTHER_BINARY_MAGICS = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
BINARY_SNIFF_BYTES = 8192


def read_limited(fileobj: IO[bytes], *, max_bytes: int) -> bytes:
    """Read the whole file, refusing anything larger than ``max_bytes``."""
    data = fileobj.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImportFileError(
            _("The file is too large: the limit is %(limit)s.")
            % {"limit": filesizeformat(max_bytes)}
        )
    if not data:
        raise ImportFileError(_("The file is empty."))
    return data


def cell_text(value: object) -> str:
    """A cell as the operator would read it: trimmed text, whole numbers without ".0"."""
    if isinstance(value, str):  # the common case first: every CSV cell
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="minutes")
    return str(value).strip()


def find_columns(header: Sequence[str]) -> tuple[int, int | None, list[tuple[int, str]]]:
    """Return (phone column, name column or None, [(column, variable name), …])."""
    lowered = [text.lower() for text in header]
    phone_col = next(
        (i for i, text in enumerate(lowered) if any(w in text for w in PHONE_HEADER_WORDS)), None
    )
    if phone_col is None:
        found = ", ".join(f"“{text}”" for text in header if text)
        raise ImportFileError(
            _(
                "No phone column: one column header must contain “phone” or “nomor”."
                " Headers found: %(headers)s."
            )
            % {"headers": found}
        )
    others = [i for i in range(len(header)) if i != phone_col and header[i]]
    # An exact "Name"/"Nama" beats a header that merely contains the word ("Nama Kota").
    name_col = next((i for i in others if lowered[i] in NAME_HEADER_WORDS), None)
    if name_col is None:
        name_col = next(
            (i for i in others if any(w in lowered[i] for w in NAME_HEADER_WORDS)), None
        )
    variables: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i in others:
        if i != name_col and header[i] not in seen:
            seen.add(header[i])
            variables.append((i, header[i]))
    return phone_col, name_col, variables


def table_rows(data: bytes, filename: str) -> Iterator[tuple[int, Sequence[object]]]:
    """Every row of the file as (spreadsheet row number, cells); the header is row 1."""
    extension = PurePath(filename).suffix.lower()
    if extension == ".xls" or data.startswith(XLS_MAGIC):
        raise ImportFileError(
            _("Old Excel (.xls) files are not supported; save the sheet as .xlsx or CSV.")
        )
    if (extension and extension not in CSV_EXTENSIONS | XLSX_EXTENSIONS) or data.startswith(
        OTHER_BINARY_MAGICS
    ):
        raise ImportFileError(_("Only CSV and XLSX files can be imported."))
    if data.startswith(ZIP_MAGIC):
        return _xlsx_rows(data)
    if extension in XLSX_EXTENSIONS:
        raise ImportFileError(_("The XLSX file is damaged or is not really an Excel workbook."))
    return _csv_rows(data)


def _csv_rows(data: bytes) -> Iterator[tuple[int, Sequence[object]]]:
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            yield number, row
    except csv.Error as exc:
        raise ImportFileError(
            _("The CSV file is malformed at row %(row)d: %(error)s")
            % {"row": number + 1, "error": exc}
        ) from exc


def _decode(data: bytes) -> str:
    if data.startswith(UTF16_BOMS):
        # Excel's "Unicode Text" export.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ImportFileError(_("The file could not be read as UTF-16 text.")) from exc
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise ImportFileError(_("Only CSV and XLSX files can be imported."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            _(
                "The file's text encoding could not be read (neither UTF-8 nor Windows-1252);"
                " save it as “CSV UTF-8” and try again."
            )
        ) from exc


def _sniff_delimiter(text: str) -> str:
    """The delimiter used most outside quotes in the header line (Excel in Indonesia uses ;)."""
    counts = dict.fromkeys(CSV_DELIMITERS, 0)
    quoted = False
    for char in text.lstrip("\r\n"):
        if char == '"':
            quoted = not quoted
        elif not quoted:
            if char in "\r\n":
                break
            if char in counts:
                counts[char] += 1
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, Sequence[object]]]:
    damaged = _("The XLSX file is damaged or is not really an Excel workbook.")
    # openpyxl reports a damaged archive with many exception types (zip, XML, KeyError, …);
    # for an uploaded file every one of them means the same thing to the operator.
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError(damaged) from exc
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise ImportFileError(_("The workbook has no sheets."))
        sheet = workbook.active if workbook.active in sheets else sheets[0]
        # Dimensions written by other programs can be wrong; read every row there is.
        sheet.reset_dimensions()
        try:
            yield from enumerate(sheet.iter_rows(values_only=True), start=1)
        except Exception as exc:
            raise ImportFileError(damaged) from exc
    finally:
        workbook.close()
