"""Recipient admin: fast at a million rows, engine fields read-only, counters kept in step."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin import operations
from campaigns.admin.base import RunBatchPermissionMixin, StrictActionsMixin, form_changes
from campaigns.admin.forms import RecipientAdminForm
from campaigns.models import Recipient
from campaigns.paginators import KnownCountPaginator, recipient_changelist_count
from campaigns.phones import InvalidPhoneNumber, normalise_phone
from campaigns.sending.runs import InDoubtResolution, resolve_in_doubt
from campaigns.whatsapp.errors import classify

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
class RecipientAdmin(RunBatchPermissionMixin, StrictActionsMixin, admin.ModelAdmin):
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
    actions = [
        "delete_selected",
        "mark_in_doubt_sent",
        "mark_in_doubt_failed",
        "send_in_doubt_again",
        "retry_failed",
    ]
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

    # --- in-doubt resolution and retrying failures (operators only) ------------------------
    def _resolve_in_doubt(
        self, request: HttpRequest, queryset: QuerySet[Recipient], resolution: str, done: str
    ) -> None:
        ids = list(queryset.filter(status=Recipient.Status.IN_DOUBT).values_list("pk", flat=True))
        if not ids:
            self.message_user(
                request, _("None of the selected recipients is in doubt."), messages.WARNING
            )
            return
        resolved = resolve_in_doubt(
            recipient_ids=ids, resolution=resolution, actor=request.user, request=request
        )
        self.message_user(request, done % {"n": resolved}, messages.SUCCESS)
        if queryset.exclude(status=Recipient.Status.IN_DOUBT).exists():
            self.message_user(
                request,
                _("Selected recipients that were not in doubt were left as they are."),
                messages.INFO,
            )

    @admin.action(permissions=["run_batch"], description=gettext_lazy("In doubt: mark as sent"))
    def mark_in_doubt_sent(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        self._resolve_in_doubt(
            request,
            queryset,
            InDoubtResolution.SENT,
            _("%(n)s in-doubt recipient(s) marked as sent."),
        )

    @admin.action(permissions=["run_batch"], description=gettext_lazy("In doubt: mark as failed"))
    def mark_in_doubt_failed(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        self._resolve_in_doubt(
            request,
            queryset,
            InDoubtResolution.FAILED,
            _("%(n)s in-doubt recipient(s) marked as failed."),
        )

    @admin.action(
        permissions=["run_batch"],
        description=gettext_lazy("In doubt: back to pending (send again)"),
    )
    def send_in_doubt_again(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        self._resolve_in_doubt(
            request,
            queryset,
            InDoubtResolution.SEND_AGAIN,
            _("%(n)s in-doubt recipient(s) put back to pending; the next run sends them."),
        )

    @admin.action(permissions=["run_batch"], description=gettext_lazy("Retry failed"))
    def retry_failed(
        self, request: HttpRequest, queryset: QuerySet[Recipient]
    ) -> HttpResponseBase | None:
        """Confirm on an intermediate page (with the force option), then retry."""
        if request.POST.get("post") == "yes":
            result = operations.retry_failed(
                recipients=queryset,
                force=request.POST.get("force") == "on",
                actor=request.user,
                request=request,
            )
            self._report_retry(request, result)
            return None
        summary = operations.summarise_failed(queryset)
        if summary.total == 0:
            self.message_user(
                request, _("None of the selected recipients has failed."), messages.WARNING
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Retry failed recipients"),
            "summary": summary,
            "permanent_rows": [
                (
                    code,
                    n,
                    classify(code=code, http_status=None).hint
                    if code is not None
                    else _("no WhatsApp error code"),
                )
                for code, n in summary.permanent_by_code
            ],
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/campaigns/recipient/retry_failed_confirmation.html", context
        )

    def _report_retry(self, request: HttpRequest, result: operations.RetryFailedResult) -> None:
        if result.retried:
            self.message_user(
                request,
                _("%(n)s failed recipient(s) put back to pending; the next run sends them.")
                % {"n": result.retried},
                messages.SUCCESS,
            )
        if result.permanent_retried:
            self.message_user(
                request,
                _("%(n)s of them had a permanent error and were retried because you forced it.")
                % {"n": result.permanent_retried},
                messages.WARNING,
            )
        if result.permanent_left:
            self.message_user(
                request,
                _(
                    "%(n)s recipient(s) with a permanent error were left failed; tick “also "
                    "retry permanent failures” to include them."
                )
                % {"n": result.permanent_left},
                messages.INFO,
            )
        if not result.retried and not result.permanent_left:
            self.message_user(
                request, _("None of the selected recipients has failed."), messages.WARNING
            )
