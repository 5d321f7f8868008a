"""A file that cannot be imported gets a clear message and writes nothing at all."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from campaigns.importing import ImportFileError, import_recipients
from campaigns.models import AuditLog, Campaign, Recipient

pytestmark = pytest.mark.django_db


def xlsx_bytes() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["phone"])
    sheet.append(["081234567890"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return buffer.getvalue()


BAD_FILES = [
    pytest.param(b"", "list.csv", "The file is empty.", id="empty"),
    pytest.param(b"\r\n \r\n", "list.csv", "The file has no rows.", id="only-blank-lines"),
    pytest.param(b"nomor,nama\n", "list.csv", "no data rows", id="header-only"),
    pytest.param(b"nomor,nama\n,\n\n", "list.csv", "no data rows", id="header-and-blank-rows"),
    pytest.param(
        b"nama,kota,email\nBudi,Jakarta,b@example.com\n",
        "list.csv",
        "No phone column: one column header must contain “phone” or “nomor”."
        " Headers found: “nama”, “kota”, “email”.",
        id="no-phone-column",
    ),
    pytest.param(b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", "list.pdf", "Only CSV and XLSX", id="pdf"),
    pytest.param(b"%PDF-1.4\n1 0 obj\n", "list.csv", "Only CSV and XLSX", id="pdf-named-csv"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", "photo.png", "Only CSV and XLSX", id="png"),
    pytest.param(b"nomor\n0812\n", "list.docx", "Only CSV and XLSX", id="other-extension"),
    pytest.param(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "list.xls", "Old Excel (.xls)", id="xls"
    ),
    pytest.param(b"nomor\x00\x01\x02\n", "list.csv", "Only CSV and XLSX", id="binary-with-nul"),
    pytest.param(
        b"nomor,nama\n0812,\x81\x8d\x8f\n",
        "list.csv",
        "text encoding could not be read",
        id="undecodable",
    ),
    pytest.param(
        b"nomor,nama\n081234567890,Budi\n", "list.xlsx", "XLSX file is damaged", id="csv-named-xlsx"
    ),
    pytest.param(zip_bytes(), "list.xlsx", "XLSX file is damaged", id="zip-that-is-not-a-workbook"),
    pytest.param(xlsx_bytes()[:400], "list.xlsx", "XLSX file is damaged", id="truncated-xlsx"),
]


@pytest.mark.parametrize(("data", "filename", "message"), BAD_FILES)
def test_a_bad_file_is_refused_with_a_clear_message_and_writes_nothing(
    campaign: Campaign, data: bytes, filename: str, message: str
) -> None:
    with pytest.raises(ImportFileError) as caught:
        import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename=filename)

    assert message in caught.value.message
    assert str(caught.value) == caught.value.message
    assert not Recipient.objects.exists()
    assert not AuditLog.objects.filter(action="recipients.import").exists()
    campaign.refresh_from_db()
    assert campaign.pending_count == 0


def test_the_damaged_file_message_is_a_value_error_the_caller_can_show(campaign: Campaign) -> None:
    with pytest.raises(ValueError, match="damaged"):
        import_recipients(campaign=campaign, fileobj=io.BytesIO(zip_bytes()), filename="list.xlsx")
