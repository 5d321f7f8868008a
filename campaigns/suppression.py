"""The suppression list: numbers no run sends to (opt-out replies, error 131050, operators).

Every addition and removal writes its audit row in the same transaction; additions by the
webhook or the engine are audited as done by the system.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from campaigns import audit
from campaigns.models import Suppression
from campaigns.whatsapp.client import E164_PATTERN

Actor = AbstractBaseUser | AnonymousUser | None

# Replies that mean "stop sending me messages" (English and Indonesian), compared trimmed and
# case-insensitively with the whole message.
OPT_OUT_WORDS = frozenset({"stop", "berhenti", "unsubscribe"})
DETAIL_MAX = 255


def opt_out_word(text: str) -> str | None:
    """The opt-out word ``text`` consists of, upper-cased (``"STOP"``), or None."""
    word = text.strip()
    return word.upper() if word.casefold() in OPT_OUT_WORDS else None


def suppress(
    *,
    phone_number: str,
    reason: str,
    source: str,
    detail: str = "",
    actor: Actor = None,
    request: HttpRequest | None = None,
) -> Suppression | None:
    """Put an E.164 number on the list; None when it already was (nothing changes then)."""
    if not E164_PATTERN.match(phone_number):
        raise ValueError(f"not an E.164 phone number: {phone_number!r}")
    with transaction.atomic():
        if Suppression.objects.filter(phone_number=phone_number).exists():
            return None
        try:
            with transaction.atomic():
                row = Suppression.objects.create(
                    phone_number=phone_number,
                    reason=reason,
                    source=source,
                    detail=detail[:DETAIL_MAX],
                    created_by_id=actor.pk
                    if actor is not None and actor.is_authenticated
                    else None,
                )
        except IntegrityError:
            return None  # added at the same moment by someone else
        audit.record(
            action="suppression.add",
            actor=actor,
            obj=row,
            request=request,
            details={
                "phone_number": phone_number,
                "reason": reason,
                "source": source,
                "detail": row.detail,
            },
        )
    return row


def remove(
    *, suppressions: Iterable[Suppression], actor: Actor, request: HttpRequest | None = None
) -> int:
    """Take numbers off the list (runs may send to them again); one audit row each."""
    removed = 0
    with transaction.atomic():
        ids = [row.pk for row in suppressions]
        for row in Suppression.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
            audit.record(
                action="suppression.remove",
                actor=actor,
                obj=row,
                request=request,
                details={
                    "phone_number": row.phone_number,
                    "reason": row.reason,
                    "source": row.source,
                    "detail": row.detail,
                    "created_at": row.created_at,
                },
            )
            row.delete()
            removed += 1
    return removed


def suppressed_among(phone_numbers: Iterable[str]) -> dict[str, Suppression]:
    """The suppression entries of those numbers that are on the list."""
    numbers = list(set(phone_numbers))
    if not numbers:
        return {}
    return {row.phone_number: row for row in Suppression.objects.filter(phone_number__in=numbers)}


def describe(row: Suppression) -> str:
    """Why a number is skipped, for a recipient's error message: "opted out (STOP)"."""
    if row.reason == Suppression.Reason.OPT_OUT_WORD:
        return _("opted out (%(word)s)") % {"word": row.detail or "STOP"}
    if row.reason == Suppression.Reason.MARKETING_OPT_OUT:
        return _("stopped marketing messages (131050)")
    return _("on the suppression list (added by an operator)")
