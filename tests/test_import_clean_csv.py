"""A clean CSV becomes pending recipients with their names and template variables."""

from __future__ import annotations

import io

import pytest

from campaigns.importing import ImportResult, import_recipients
from campaigns.models import Campaign, Recipient

pytestmark = pytest.mark.django_db


def run_import(
    campaign: Campaign, content: str | bytes, filename: str = "peserta.csv"
) -> ImportResult:
    data = content.encode() if isinstance(content, str) else content
    return import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename=filename)


def test_it_imports_every_row_with_name_and_variables(campaign: Campaign) -> None:
    result = run_import(
        campaign,
        "Nama,Nomor HP,Kota,Tanggal\n"
        "Budi Santoso,081234567890,Jakarta,2024-07-01\n"
        "Siti Rahma,081298765432,Bandung,2024-07-02\n",
    )

    assert (result.rows_read, result.created, result.rejected) == (2, 2, [])
    rows = list(
        Recipient.objects.filter(campaign=campaign).values_list(
            "phone_number", "name", "variables", "status"
        )
    )
    assert rows == [
        ("+6281234567890", "Budi Santoso", {"Kota": "Jakarta", "Tanggal": "2024-07-01"}, "pending"),
        ("+6281298765432", "Siti Rahma", {"Kota": "Bandung", "Tanggal": "2024-07-02"}, "pending"),
    ]


def test_it_finds_the_columns_by_english_headers_in_any_order_and_case(campaign: Campaign) -> None:
    run_import(campaign, "  City , NAME ,Phone Number\nSurabaya,Agus,0811111111\n")

    recipient = Recipient.objects.get(campaign=campaign)
    assert (recipient.phone_number, recipient.name, recipient.variables) == (
        "+62811111111",
        "Agus",
        {"City": "Surabaya"},
    )


def test_an_exact_name_header_wins_over_one_that_only_contains_the_word(campaign: Campaign) -> None:
    run_import(campaign, "Nama Kota,Nama,Nomor\nMedan,Dewi,081211112222\n")

    recipient = Recipient.objects.get(campaign=campaign)
    assert recipient.name == "Dewi"
    assert recipient.variables == {"Nama Kota": "Medan"}


def test_empty_cells_leave_the_variable_to_the_campaign_default(campaign: Campaign) -> None:
    run_import(campaign, "phone,name,location\n081234567890,,\n")

    recipient = Recipient.objects.get(campaign=campaign)
    assert (recipient.name, recipient.variables) == ("", {})


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_it_reads_semicolon_and_tab_separated_files(campaign: Campaign, delimiter: str) -> None:
    text = delimiter.join(["nama", "nomor", "alamat"]) + "\n"
    text += delimiter.join(["Rina", "0812.3456.7890", "Jl. Sudirman, No. 5"]) + "\n"

    run_import(campaign, text)

    recipient = Recipient.objects.get(campaign=campaign)
    assert recipient.phone_number == "+6281234567890"
    assert recipient.variables == {"alamat": "Jl. Sudirman, No. 5"}


def test_quoted_fields_may_contain_the_delimiter(campaign: Campaign) -> None:
    run_import(campaign, 'nomor,nama,alamat\n081234567890,"Santoso, Budi","Jl. Merdeka, 1"\n')

    recipient = Recipient.objects.get(campaign=campaign)
    assert (recipient.name, recipient.variables) == ("Santoso, Budi", {"alamat": "Jl. Merdeka, 1"})


def test_it_reads_utf8_with_a_byte_order_mark_as_excel_writes_it(campaign: Campaign) -> None:
    run_import(campaign, "nomor,nama\n081234567890,Dédé\n".encode("utf-8-sig"))

    assert Recipient.objects.get(campaign=campaign).name == "Dédé"


def test_it_falls_back_to_windows_1252(campaign: Campaign) -> None:
    run_import(campaign, "nomor;nama\n081234567890;José Müller\n".encode("cp1252"))

    assert Recipient.objects.get(campaign=campaign).name == "José Müller"


def test_it_reads_excel_unicode_text_exports(campaign: Campaign) -> None:
    run_import(campaign, "nomor\tnama\r\n081234567890\tAyu\r\n".encode("utf-16"), "peserta.txt")

    assert Recipient.objects.get(campaign=campaign).name == "Ayu"


def test_blank_lines_are_neither_imported_nor_counted(campaign: Campaign) -> None:
    result = run_import(campaign, "\nnomor,nama\n081234567890,A\n,\n\n081298765432,B\n\n")

    assert (result.rows_read, result.created, result.rejected) == (2, 2, [])


def test_names_longer_than_the_column_are_cut_to_fit(campaign: Campaign) -> None:
    run_import(campaign, f"nomor,nama\n081234567890,{'x' * 300}\n")

    assert len(Recipient.objects.get(campaign=campaign).name) == 255
