"""Recipient admin: fast at a million rows, engine fields read-only, counters kept in step."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin import operations
from campaigns.admin.base import StrictActionsMixin, form_changes
from campaigns.admin.forms import RecipientAdminForm
from campaigns.models import Recipient
from campaigns.paginators import KnownCountPaginator, recipient_changelist_count
from campaigns.phones import InvalidPhoneNumber, normalise_phone

# Django's delete confirmation loads and lists every selected row; past this many, deleting
# the campaign (or narrowing the selection) is the sane way.
MAX_BULK_DELETE = 1000

CONTACT_FIELDS = ("campaign", "phone_number", "name", "variables")
# Everything the sending engine and the webhooks write.
ENGINE_FIELDS = (
    "status",
    "attempts",
    "wamid",
    "error_code",
    "error_message",
    "error_details",
    "error_http_status",
    "error_fbtrace_id",
    "next_attempt_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "created_at",
    "updated_at",
)


@admin.register(Recipient)
class RecipientAdmin(StrictActionsMixin, admin.ModelAdmin):
    form = RecipientAdminForm
    list_display = (
        "phone_number",
        "name",
        "campaign",
        "status",
        "attempts",
        "error_code",
        "sent_at",
        "delivered_at",
        "read_at",
    )
    list_filter = ("status", "campaign")
    search_fields = ("phone_number", "name")
    search_help_text = gettext_lazy("Search by phone number (any format, e.g. 0812…) or name.")
    list_select_related = ("campaign",)
    autocomplete_fields = ("campaign",)
    actions = ["delete_selected"]
    # No COUNT(*) over the whole table on each page view: see get_paginator.
    show_full_result_count = False
    # Facet counts would run one COUNT per filter choice over all recipients.
    show_facets = admin.ShowFacets.NEVER

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet[Recipient],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator:
        """Take the total from the campaign counters when the filters allow it.

        Unfiltered, or filtered by campaign and/or status, the counters give the exact total
        without touching the recipients table. With a search the real count is taken: the
        search has to read the matching rows anyway, and no counter knows the answer.
        """
        count = recipient_changelist_count(request.GET)
        if count is None:
            return super().get_paginator(
                request, queryset, per_page, orphans, allow_empty_first_page
            )
        return KnownCountPaginator(
            queryset,
            per_page,
            count=count,
            orphans=orphans,
            allow_empty_first_page=allow_empty_first_page,
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Recipient], search_term: str
    ) -> tuple[QuerySet[Recipient], bool]:
        """A whole phone number, typed any way (0812-…, 62812…), finds exactly that number.

        Anything else (part of a number, a name) is a substring search.
        """
        try:
            phone = normalise_phone(search_term)
        except InvalidPhoneNumber:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(phone_number=phone), False

    # --- form -----------------------------------------------------------------------------
    def get_fieldsets(self, request: HttpRequest, obj: Recipient | None = None) -> Any:
        contact = (None, {"fields": CONTACT_FIELDS})
        if obj is None:
            return [contact]
        return [contact, (_("Delivery"), {"fields": ENGINE_FIELDS})]

    def get_readonly_fields(self, request: HttpRequest, obj: Recipient | None = None) -> Any:
        if obj is None:
            return ()
        # Moving a recipient to another campaign, or renumbering one already sent, would
        # rewrite history; the number may still be corrected while it is pending.
        fixed = (
            ("campaign",)
            if obj.status == Recipient.Status.PENDING
            else ("campaign", "phone_number")
        )
        return fixed + ENGINE_FIELDS

    def save_model(self, request: HttpRequest, obj: Recipient, form: Any, change: bool) -> None:
        if change:
            operations.change_recipient(
                recipient=obj, changes=form_changes(form), actor=request.user, request=request
            )
        else:
            obj.status = Recipient.Status.PENDING
            operations.add_recipient(recipient=obj, actor=request.user, request=request)

    # --- delete ---------------------------------------------------------------------------
    def delete_model(self, request: HttpRequest, obj: Recipient) -> None:
        operations.delete_recipients(
            recipients=Recipient.objects.filter(pk=obj.pk), actor=request.user, request=request
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        operations.delete_recipients(recipients=queryset, actor=request.user, request=request)

    @admin.action(
        permissions=["delete"],
        description=gettext_lazy("Delete selected %(verbose_name_plural)s"),
    )
    def delete_selected(
        self, request: HttpRequest, queryset: QuerySet[Recipient]
    ) -> HttpResponseBase | None:
        """Django's delete_selected, refused for selections too big to confirm on one page."""
        if queryset[: MAX_BULK_DELETE + 1].count() > MAX_BULK_DELETE:
            self.message_user(
                request,
                _(
                    "Select at most %(max)d recipients to delete at once. To remove all of a "
                    "campaign's recipients, delete the campaign."
                )
                % {"max": MAX_BULK_DELETE},
                messages.ERROR,
            )
            return None
        return django_delete_selected(self, request, queryset)
