"""Numbers typed the many ways Indonesians type them all land as E.164."""

from __future__ import annotations

import io

import pytest

from campaigns.importing import import_recipients
from campaigns.models import Campaign, Recipient

pytestmark = pytest.mark.django_db


def test_every_common_indonesian_spelling_is_normalised(campaign: Campaign) -> None:
    lines = [
        "Nama;Nomor WhatsApp",
        "A;0812-3456-7801",
        "B;+62 812 3456 7802",
        "C;6281234567803",
        "D;81234567804",
        "E;0812 3456 7805",
        "F;0812.3456.7806",
        "G;'081234567807",
        "H;(0812) 3456-7808",
        "I;0062 812 3456 7809",
        "J; 0812-3456-7810 ",
        "K;6281234567811.0",
        "L;+62 (0)812-3456-7812",
    ]
    data = ("\r\n".join(lines) + "\r\n").encode()

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="wa.csv")

    assert result.rejected == []
    phones = dict(Recipient.objects.filter(campaign=campaign).values_list("name", "phone_number"))
    assert phones == {letter: f"+62812345678{n:02d}" for n, letter in enumerate("ABCDEFGHIJKL", 1)}


def test_landlines_with_area_codes_are_accepted(campaign: Campaign) -> None:
    data = b"nomor\n(021) 555-1234\n0361 234567\n"

    import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="x.csv")

    assert set(
        Recipient.objects.filter(campaign=campaign).values_list("phone_number", flat=True)
    ) == {
        "+62215551234",
        "+62361234567",
    }


def test_foreign_numbers_keep_their_country_code(campaign: Campaign) -> None:
    import_recipients(
        campaign=campaign, fileobj=io.BytesIO(b"phone\n+60 12-345 6789\n"), filename="x.csv"
    )

    assert Recipient.objects.get(campaign=campaign).phone_number == "+60123456789"
