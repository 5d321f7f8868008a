"""Phone numbers are normalised to E.164 the way an Indonesian operator types them."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_django import Settings

from campaigns.phones import InvalidPhoneNumber, normalise_phone


@pytest.mark.parametrize(
    "raw",
    [
        "0812-3456-7890",
        "0812 3456 7890",
        "0812.3456.7890",
        "081234567890",
        "+62 812 3456 7890",
        "+62 (0) 812 3456 7890",
        "62 812-3456-7890",
        "6281234567890",
        "006281234567890",
        "81234567890",
        " '081234567890 ",
        "6281234567890.0",
        6281234567890,
        6281234567890.0,
        81234567890,
    ],
)
def test_it_reads_indonesian_mobile_numbers_in_every_common_format(raw: object) -> None:
    assert normalise_phone(raw, region="ID") == "+6281234567890"


def test_it_reads_landlines_with_the_area_code() -> None:
    assert normalise_phone("(021) 555-1234", region="ID") == "+62215551234"


def test_it_prefers_the_mobile_reading_of_digits_that_start_with_the_country_code() -> None:
    # 62812345678 could also be the landline 0628-1234-5678; people mean +62 812-345-678.
    assert normalise_phone("62812345678", region="ID") == "+62812345678"


def test_it_keeps_foreign_numbers_with_their_country_code() -> None:
    assert normalise_phone("+44 20 7946 0958", region="ID") == "+442079460958"
    assert normalise_phone("+39 06 6982 1234", region="ID") == "+390669821234"


def test_it_reads_numbers_without_country_code_in_the_default_region(
    settings: Settings,
) -> None:
    settings.DEFAULT_PHONE_REGION = "MY"
    assert normalise_phone("012-345 6789") == "+60123456789"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty phone number"),
        (None, "empty phone number"),
        ("tidak ada", "not a phone number"),
        ("0812", "not a valid phone number (too short)"),
        ("+999 1234 5678", "not a phone number"),
        ("6.28123E+12", "scientific notation"),
    ],
)
def test_it_explains_why_a_value_is_not_a_phone_number(raw: object, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalise_phone(raw, region="ID")
    assert reason in caught.value.reason


def _library_only(raw: str, region: str) -> str | None:
    """The reference: phonenumbers.parse for every value, no shortcut.

    Like normalise_phone, a spreadsheet's "6281234567890.0" is read as its digits first.
    """
    text = raw.strip()
    if re.fullmatch(r"\+?\d+\.0+", text):
        text = text.split(".")[0]
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        digits = "".join(ch for ch in text if ch.isdigit())
        if digits.startswith(str(phonenumbers.country_code_for_region(region))):
            try:
                number = phonenumbers.parse("+" + digits, None)
            except phonenumbers.NumberParseException:
                number = None
            if number is not None and phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_REGIONS = ["ID", "US", "GB", "DE", "IT", "SG", "MY", "AU", "IN", "BR", "AR", "RU", "JP", "MX"]


@st.composite
def typed_numbers(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["", "0", "+", "00", "62", "+62 ", "+62 (0)", "1", "+1 "]))
    digits = draw(st.text(alphabet="0123456789", min_size=4, max_size=14))
    separator = draw(st.sampled_from(["", " ", "-", "."]))
    cut = draw(st.integers(min_value=0, max_value=len(digits)))
    return f"{prefix}{digits[:cut]}{separator}{digits[cut:]}"


@hypothesis_settings(max_examples=400, deadline=None)
@given(raw=typed_numbers(), region=st.sampled_from(_REGIONS))
def test_its_fast_path_agrees_with_the_phonenumbers_library(raw: str, region: str) -> None:
    try:
        ours: str | None = normalise_phone(raw, region=region)
    except InvalidPhoneNumber:
        ours = None
    assert ours == _library_only(raw, region)


@hypothesis_settings(max_examples=300, deadline=None)
@given(national=st.integers(min_value=8_100_000_000, max_value=8_999_999_999))
def test_valid_indonesian_mobiles_agree_with_the_library_in_every_spelling(national: int) -> None:
    for raw in (f"0{national}", f"62{national}", f"+62 {national}", str(national)):
        try:
            ours: str | None = normalise_phone(raw, region="ID")
        except InvalidPhoneNumber:
            ours = None
        assert ours == _library_only(raw, "ID")


def test_a_plus_followed_by_zero_is_not_a_country_code() -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalise_phone("+012012000000", region="ID")
