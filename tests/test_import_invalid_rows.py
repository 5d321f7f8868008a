"""Rows whose number is impossible are named with row, value and reason; the rest is imported."""

from __future__ import annotations

import io

import pytest

from campaigns.importing import RejectedRow, import_recipients
from campaigns.models import Campaign, Recipient

pytestmark = pytest.mark.django_db


def test_each_rejected_row_is_named_with_its_spreadsheet_row_value_and_reason(
    campaign: Campaign,
) -> None:
    data = (
        b"nama,nomor\n"
        b"Valid,081234567890\n"
        b"Short,0812\n"
        b"Words,tidak ada\n"
        b"Empty,\n"
        b"Excel,6.28123E+12\n"
        b"Also valid,081298765432\n"
    )

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="bad-rows.csv")

    assert (result.rows_read, result.created, result.invalid) == (6, 2, 4)
    assert [(r.row_number, r.value) for r in result.rejected] == [
        (3, "0812"),
        (4, "tidak ada"),
        (5, ""),
        (6, "6.28123E+12"),
    ]
    reasons = [r.reason for r in result.rejected]
    assert reasons[0] == "not a valid phone number (too short)"
    assert reasons[1] == "not a phone number"
    assert reasons[2] == "empty phone number"
    assert "scientific notation" in reasons[3]
    assert Recipient.objects.filter(campaign=campaign).count() == 2


def test_a_row_shorter_than_the_header_has_an_empty_phone(campaign: Campaign) -> None:
    result = import_recipients(
        campaign=campaign, fileobj=io.BytesIO(b"nama,kota,nomor\nBudi\n"), filename="x.csv"
    )

    assert result.rejected == [RejectedRow(2, "", "empty phone number")]
    assert result.created == 0


def test_a_file_with_only_invalid_rows_imports_nothing_but_still_reports(
    campaign: Campaign,
) -> None:
    result = import_recipients(
        campaign=campaign, fileobj=io.BytesIO(b"nomor\n123\nabc\n"), filename="x.csv"
    )

    assert (result.rows_read, result.created, len(result.rejected)) == (2, 0, 2)
