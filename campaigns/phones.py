"""Phone-number normalisation to E.164 (with the +), on top of the phonenumbers library."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

# Characters people put in numbers that carry no meaning (the library ignores most of them,
# but stray quotes and apostrophes from spreadsheets need stripping first).
_JUNK = "'\"`\u200b\u00a0"


class InvalidPhoneNumber(ValueError):
    """A value that cannot be a phone number; ``reason`` says why, for the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_POSSIBILITY_REASONS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.INVALID_LENGTH: "wrong length",
}


def normalise_phone(raw: object, *, region: str | None = None) -> str:
    """Return ``raw`` as E.164 (``+62812…``) or raise :class:`InvalidPhoneNumber`.

    Numbers without a country code are read in ``region`` (default ``DEFAULT_PHONE_REGION``),
    so ``0812…`` and ``812…`` become ``+62812…``; ``62812…`` and ``0062812…`` are understood as
    already carrying the country code.
    """
    region = region or settings.DEFAULT_PHONE_REGION
    text = _as_text(raw)
    if not text:
        raise InvalidPhoneNumber(_("empty phone number"))
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhoneNumber(_("not a phone number")) from exc

    if not phonenumbers.is_valid_number(number) and not text.startswith("+"):
        # "6281234567890": the country code typed without the +.
        try:
            with_plus = phonenumbers.parse("+" + text, None)
        except NumberParseException:
            with_plus = None
        if with_plus is not None and phonenumbers.is_valid_number(with_plus):
            number = with_plus

    if not phonenumbers.is_valid_number(number):
        possibility = phonenumbers.is_possible_number_with_reason(number)
        reason = _POSSIBILITY_REASONS.get(possibility)
        if reason is None:
            raise InvalidPhoneNumber(_("not a valid phone number"))
        raise InvalidPhoneNumber(_("not a valid phone number (%(reason)s)") % {"reason": _(reason)})
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _as_text(raw: object) -> str:
    """Spreadsheet cells arrive as int or float (6281234567890.0); make them digits again."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return ""
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else str(raw)
    return str(raw).strip().strip(_JUNK).strip()
