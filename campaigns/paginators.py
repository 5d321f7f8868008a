"""Paginators that never run COUNT(*) over the recipients table.

A changelist or a status tab asks its paginator for the total on every page view; with a
million recipients that COUNT(*) is the slowest query of the page. Campaign already keeps
exact per-status counters (campaigns.stats), so whenever the rows shown are exactly "the
recipients of campaign X (and status Y)" the total is read from those counters instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django.contrib.admin.options import IS_FACETS_VAR, IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.views.main import ALL_VAR, ERROR_FLAG, ORDER_VAR, PAGE_VAR, SEARCH_VAR
from django.core.paginator import Paginator
from django.db.models import F, Sum
from django.http import QueryDict

from campaigns.models import Campaign, Recipient
from campaigns.stats import COUNTER_FIELDS

# Query-string keys of the recipient changelist that do not narrow the rows.
_NEUTRAL_PARAMS = frozenset(
    {ALL_VAR, ORDER_VAR, PAGE_VAR, ERROR_FLAG, IS_FACETS_VAR, IS_POPUP_VAR, TO_FIELD_VAR}
)
CAMPAIGN_PARAM = "campaign__id__exact"
STATUS_PARAM = "status__exact"


class KnownCountPaginator(Paginator):
    """A Paginator told its total up front instead of counting the rows."""

    def __init__(
        self,
        object_list: Sequence[Any] | Any,
        per_page: int,
        *,
        count: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> None:
        super().__init__(
            object_list, per_page, orphans=orphans, allow_empty_first_page=allow_empty_first_page
        )
        self._known_count = max(count, 0)

    @cached_property
    def count(self) -> int:
        return self._known_count


def counted_recipients(*, campaign_id: int | None = None, status: str | None = None) -> int:
    """Recipients of one campaign (or all) in one status (or any), read from the counters."""
    fields = [COUNTER_FIELDS[status]] if status else list(COUNTER_FIELDS.values())
    total = sum((F(field) for field in fields[1:]), start=F(fields[0]))
    campaigns = (
        Campaign.objects.all() if campaign_id is None else Campaign.objects.filter(pk=campaign_id)
    )
    return campaigns.aggregate(n=Sum(total))["n"] or 0


def recipient_changelist_count(params: QueryDict) -> int | None:
    """The recipient changelist's total from counters, or None when only COUNT(*) can tell.

    Counters answer exactly when the only filters are campaign and/or status. A search or any
    other filter narrows the rows in a way no counter knows, so the real count is needed
    (and is then bounded by the search itself).
    """
    if params.get(SEARCH_VAR, "").strip():
        return None
    filters = {key: params.getlist(key) for key in params if key not in _NEUTRAL_PARAMS}
    if set(filters) - {CAMPAIGN_PARAM, STATUS_PARAM}:
        return None
    if any(len(values) != 1 for values in filters.values()):
        return None

    campaign_id: int | None = None
    if CAMPAIGN_PARAM in filters:
        try:
            campaign_id = int(filters[CAMPAIGN_PARAM][0])
        except ValueError:
            return None
    status = filters.get(STATUS_PARAM, [None])[0]
    if status is not None and status not in Recipient.Status.values:
        return None
    return counted_recipients(campaign_id=campaign_id, status=status)
