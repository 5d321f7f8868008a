"""Export CSV: every recipient with status, times, error code and reason."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from campaigns.exporting import EXPORT_HEADER, iter_csv_chunks, iter_export_rows
from campaigns.models import Campaign, Recipient
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db

SENT = dt.datetime(2024, 7, 1, 2, 0, 5, tzinfo=dt.UTC)


def test_the_header_names_the_columns_in_order() -> None:
    assert EXPORT_HEADER == [
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


def test_a_read_and_a_failed_recipient_are_exported_with_times_and_error(
    campaign: Campaign,
) -> None:
    read, failed, pending = add_recipients(campaign, 3)
    Recipient.objects.filter(pk=read.pk).update(
        status="read",
        attempts=1,
        wamid="wamid.HBgLNjI4MTIzNDU2Nzg5MA==",
        sent_at=SENT,
        delivered_at=SENT + dt.timedelta(seconds=3),
        read_at=SENT + dt.timedelta(minutes=2),
    )
    Recipient.objects.filter(pk=failed.pk).update(
        status="failed",
        attempts=3,
        error_code=131026,
        error_message="Message undeliverable",
        error_details="Recipient is not a WhatsApp user",
        failed_at=SENT,
    )

    rows = list(iter_export_rows(campaign))

    assert rows == [
        [
            "Peserta 0",
            "+6281200000000",
            "read",
            "1",
            "2024-07-01T09:00:05+07:00",
            "2024-07-01T09:00:08+07:00",
            "2024-07-01T09:02:05+07:00",
            "",
            "",
            "",
            "wamid.HBgLNjI4MTIzNDU2Nzg5MA==",
        ],
        [
            "Peserta 1",
            "+6281200000001",
            "failed",
            "3",
            "",
            "",
            "",
            "2024-07-01T09:00:05+07:00",
            "131026",
            "Message undeliverable: Recipient is not a WhatsApp user",
            "",
        ],
        ["Peserta 2", "+6281200000002", "pending", "0", "", "", "", "", "", "", ""],
    ]
    assert pending.phone_number == rows[2][1]


def test_times_are_iso_8601_that_parse_back_to_the_same_instant(campaign: Campaign) -> None:
    (recipient,) = add_recipients(campaign, 1)
    Recipient.objects.filter(pk=recipient.pk).update(sent_at=SENT)

    (row,) = iter_export_rows(campaign)

    assert dt.datetime.fromisoformat(row[4]) == SENT
    assert timezone.is_aware(dt.datetime.fromisoformat(row[4]))


def test_only_the_campaigns_own_recipients_are_exported(campaign: Campaign) -> None:
    add_recipients(campaign, 2)
    add_recipients(make_campaign(name="Other"), 3, start=100)

    assert len(list(iter_export_rows(campaign))) == 2


def test_text_that_excel_would_run_as_a_formula_is_defused(campaign: Campaign) -> None:
    (recipient,) = add_recipients(campaign, 1)
    Recipient.objects.filter(pk=recipient.pk).update(
        name='=HYPERLINK("http://x","y")', error_message="-1 quota"
    )

    (row,) = iter_export_rows(campaign)

    assert row[0] == '\'=HYPERLINK("http://x","y")'
    assert row[9] == "'-1 quota"
    assert row[1] == "+6281200000000"  # numbers keep their +


def test_the_csv_text_has_a_bom_a_header_and_one_line_per_recipient_across_chunks(
    campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("campaigns.exporting.ROWS_PER_CHUNK", 2)
    add_recipients(campaign, 5)

    chunks = list(iter_csv_chunks(campaign))

    assert len(chunks) == 3
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert parsed[0] == EXPORT_HEADER
    assert [row[1] for row in parsed[1:]] == [f"+62812{i:08d}" for i in range(5)]
