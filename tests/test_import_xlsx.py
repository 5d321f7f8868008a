"""XLSX workbooks import like CSV, including numeric phone cells and dates."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from campaigns.importing import RejectedRow, import_recipients
from campaigns.models import Campaign, Recipient

pytestmark = pytest.mark.django_db


def workbook_bytes(rows: list[list[object]], *, active_title: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if active_title is not None:
        sheet.title = "Notes"
        sheet.append(["nothing here"])
        sheet = workbook.create_sheet(active_title)
        workbook.active = sheet
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Excel stores dates and times without a zone; openpyxl hands them back naive.
JULY_1 = dt.datetime(2024, 7, 1)  # noqa: DTZ001
JULY_2_0930 = dt.datetime(2024, 7, 2, 9, 30)  # noqa: DTZ001


def test_numeric_phone_cells_are_read_as_numbers_not_floats(campaign: Campaign) -> None:
    data = workbook_bytes(
        [
            ["Nama", "Nomor HP", "Tanggal", "Jumlah"],
            ["Int", 6281234567890, JULY_1, 3],
            ["Float", 81298765432.0, JULY_2_0930, 2.5],
            ["Text", "0813-1111-2222", None, None],
        ]
    )

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="peserta.xlsx")

    assert (result.rows_read, result.created, result.rejected) == (3, 3, [])
    rows = dict(Recipient.objects.filter(campaign=campaign).values_list("name", "phone_number"))
    assert rows == {"Int": "+6281234567890", "Float": "+6281298765432", "Text": "+6281311112222"}
    variables = dict(Recipient.objects.filter(campaign=campaign).values_list("name", "variables"))
    assert variables["Int"] == {"Tanggal": "2024-07-01", "Jumlah": "3"}
    assert variables["Float"] == {"Tanggal": "2024-07-02 09:30", "Jumlah": "2.5"}
    assert variables["Text"] == {}


def test_row_numbers_match_the_sheet_even_after_blank_rows(campaign: Campaign) -> None:
    data = workbook_bytes([["nomor"], [81234567890], [None], [None], ["0812"], [81234567890]])

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="gaps.xlsx")

    assert result.rejected == [
        RejectedRow(5, "0812", "not a valid phone number (too short)"),
        RejectedRow(6, "81234567890", "duplicate of row 2"),
    ]


def test_the_active_sheet_is_the_one_imported(campaign: Campaign) -> None:
    data = workbook_bytes([["phone", "name"], ["081234567890", "Active"]], active_title="Peserta")

    import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="two-sheets.xlsx")

    assert Recipient.objects.get(campaign=campaign).name == "Active"


def test_a_workbook_is_recognised_by_its_content_whatever_its_name(campaign: Campaign) -> None:
    data = workbook_bytes([["phone"], ["081234567890"]])

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="export.csv")

    assert result.created == 1
