"""Duplicates within the file and against the campaign are skipped and reported."""

from __future__ import annotations

import io

import pytest

from campaigns.importing import RejectedRow, import_recipients
from campaigns.models import Campaign, Recipient
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db


def test_a_number_repeated_in_the_file_is_imported_once_and_named_as_duplicate(
    campaign: Campaign,
) -> None:
    data = (
        b"nomor,nama\n"
        b"081234567890,First\n"
        b"0812-3456-7890,Second\n"
        b"081298765432,Other\n"
        b"+6281234567890,Third\n"
    )

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="d.csv")

    assert (result.rows_read, result.created, result.duplicates_in_file) == (4, 2, 2)
    assert result.rejected == [
        RejectedRow(3, "0812-3456-7890", "duplicate of row 2"),
        RejectedRow(5, "+6281234567890", "duplicate of row 2"),
    ]
    assert Recipient.objects.get(campaign=campaign, phone_number="+6281234567890").name == "First"


def test_numbers_already_in_the_campaign_are_skipped_and_kept_as_they_were(
    campaign: Campaign,
) -> None:
    (existing,) = add_recipients(campaign, 1)  # +6281200000000, "Peserta 0"
    data = b"nomor,nama\n0812-0000-0000,New name\n081298765432,Fresh\n"

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="d.csv")

    assert (result.created, result.duplicates_existing) == (1, 1)
    assert result.rejected == [RejectedRow(2, "0812-0000-0000", "already in this campaign")]
    existing.refresh_from_db()
    assert existing.name == "Peserta 0"
    assert Recipient.objects.filter(campaign=campaign).count() == 2


def test_existing_numbers_are_found_beyond_the_first_lookup_chunk(
    campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("campaigns.importing.EXISTING_CHECK_CHUNK", 2)
    add_recipients(campaign, 5)
    lines = ["nomor"] + [f"+62812{i:08d}" for i in range(7)]
    data = ("\n".join(lines) + "\n").encode()

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="d.csv")

    assert (result.created, result.duplicates_existing) == (2, 5)


def test_the_same_number_in_another_campaign_is_not_a_duplicate(campaign: Campaign) -> None:
    add_recipients(make_campaign(name="Other"), 1)

    result = import_recipients(
        campaign=campaign, fileobj=io.BytesIO(b"nomor\n081200000000\n"), filename="d.csv"
    )

    assert (result.created, result.duplicates_existing) == (1, 0)


def test_importing_the_same_file_twice_adds_nothing_the_second_time(campaign: Campaign) -> None:
    data = b"nomor\n081234567890\n081298765432\n"
    import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="d.csv")

    again = import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="d.csv")

    assert (again.created, again.duplicates_existing) == (0, 2)
    campaign.refresh_from_db()
    assert campaign.pending_count == 2
