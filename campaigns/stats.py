"""Per-status recipient counters on Campaign.

Every change of recipients' statuses calls :func:`shift` in the same transaction, so the
campaign list and overview read counters instead of counting a million rows.
:func:`recount` rebuilds them from the rows (a repair tool, and the check in tests).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Count, F

from campaigns.models import Campaign, Recipient

COUNTER_FIELDS: dict[str, str] = {status: f"{status}_count" for status in Recipient.Status.values}


def shift(campaign_id: int, delta: Mapping[str, int]) -> None:
    """Add ``delta[status]`` to each status counter of one campaign (negative to remove)."""
    changes = {
        COUNTER_FIELDS[status]: F(COUNTER_FIELDS[status]) + amount
        for status, amount in delta.items()
        if amount
    }
    if changes:
        Campaign.objects.filter(pk=campaign_id).update(**changes)


def move(campaign_id: int, *, from_status: str, to_status: str, count: int) -> None:
    """Record that ``count`` recipients moved from one status to another."""
    if count and from_status != to_status:
        shift(campaign_id, {from_status: -count, to_status: count})


def recount(campaign_id: int) -> dict[str, int]:
    """Rebuild one campaign's counters from its recipient rows and return them."""
    counts = dict.fromkeys(Recipient.Status.values, 0)
    rows = (
        Recipient.objects.filter(campaign_id=campaign_id)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    for status, n in rows:
        counts[status] = n
    Campaign.objects.filter(pk=campaign_id).update(
        **{COUNTER_FIELDS[status]: n for status, n in counts.items()}
    )
    return counts
