"""Campaign admin: list with counters and progress, Overview and Recipients on the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    QueryDict,
)
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin import batch_views, operations
from campaigns.admin.base import RunBatchPermissionMixin, StrictActionsMixin, form_changes
from campaigns.admin.forms import CampaignAdminForm
from campaigns.models import BatchRun, BatchRunLog, Campaign, Recipient
from campaigns.paginators import KnownCountPaginator
from campaigns.sending.exceptions import NoPendingRecipients
from campaigns.stats import COUNTER_FIELDS

RECIPIENTS_PER_PAGE = 50
TAB_PARAM = "tab"
PAGE_PARAM = "page"
# The status tabs of the Recipients section, in this order; "" is All.
TAB_STATUSES: tuple[str, ...] = (
    "",
    Recipient.Status.PENDING,
    Recipient.Status.SENT,
    Recipient.Status.DELIVERED,
    Recipient.Status.READ,
    Recipient.Status.FAILED,
    Recipient.Status.IN_DOUBT,
)
RECIPIENT_COLUMNS = (
    "phone_number",
    "name",
    "status",
    "attempts",
    "error_code",
    "sent_at",
    "delivered_at",
    "read_at",
)
CAMPAIGN_STATUS_FIELDS = ("status", "created_by", "created_at", "started_at", "completed_at")


@dataclass(frozen=True)
class RecipientTab:
    status: str
    label: str
    count: int
    query: str
    active: bool


def recipients_section(*, campaign: Campaign, params: QueryDict) -> dict[str, Any]:
    """One page of a campaign's recipients in one status tab, counted from the counters."""
    active = params.get(TAB_PARAM, "")
    if active not in TAB_STATUSES:
        active = ""
    tabs = [
        RecipientTab(
            status=status,
            label=str(Recipient.Status(status).label) if status else _("All"),
            count=getattr(campaign, COUNTER_FIELDS[status])
            if status
            else campaign.total_recipients,
            query="?" + urlencode({TAB_PARAM: status}) if status else "?",
            active=status == active,
        )
        for status in TAB_STATUSES
    ]
    rows = Recipient.objects.filter(campaign=campaign).only(*RECIPIENT_COLUMNS).order_by("id")
    if active:
        rows = rows.filter(status=active)
    count = next(tab.count for tab in tabs if tab.active)
    page = KnownCountPaginator(rows, RECIPIENTS_PER_PAGE, count=count).get_page(
        params.get(PAGE_PARAM)
    )

    def page_query(number: int) -> str:
        return "?" + urlencode({**({TAB_PARAM: active} if active else {}), PAGE_PARAM: number})

    changelist_filters: dict[str, str | int] = {"campaign__id__exact": campaign.pk}
    if active:
        changelist_filters["status__exact"] = active
    return {
        "show_recipients": True,
        "recipient_tabs": tabs,
        "recipient_page": page,
        "recipient_first_query": page_query(1) if page.has_previous() else "",
        "recipient_previous_query": page_query(page.previous_page_number())
        if page.has_previous()
        else "",
        "recipient_next_query": page_query(page.next_page_number()) if page.has_next() else "",
        "recipient_last_query": page_query(page.paginator.num_pages) if page.has_next() else "",
        "recipient_changelist_url": reverse("admin:campaigns_recipient_changelist")
        + "?"
        + urlencode(changelist_filters),
    }


@admin.register(Campaign)
class CampaignAdmin(RunBatchPermissionMixin, StrictActionsMixin, admin.ModelAdmin):
    form = CampaignAdminForm
    actions = ["send_batch_manually"]
    list_display = (
        "name",
        "status",
        "pending_count",
        "sent_count",
        "delivered_count",
        "read_count",
        "failed_count",
        "progress",
        "created_at",
    )
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("name", "template_name")
    search_help_text = gettext_lazy("Search by campaign name or template name.")

    # --- list -----------------------------------------------------------------------------
    @admin.display(description=gettext_lazy("progress"))
    def progress(self, obj: Campaign) -> str:
        percent = obj.progress_percent
        return format_html(
            '<progress value="{}" max="100" title="{}%"></progress> {}%', percent, percent, percent
        )

    # --- form -----------------------------------------------------------------------------
    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        template = (
            None,
            {"fields": CampaignAdminForm.Meta.fields},
        )
        if obj is None:
            return [template]
        return [template, (_("Status"), {"fields": CAMPAIGN_STATUS_FIELDS})]

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        # Status and times belong to the sending engine.
        return () if obj is None else CAMPAIGN_STATUS_FIELDS

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if change:
            operations.change_campaign(
                campaign=obj, changes=form_changes(form), actor=request.user, request=request
            )
        else:
            operations.create_campaign(campaign=obj, actor=request.user, request=request)

    # --- delete ---------------------------------------------------------------------------
    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        operations.delete_campaigns(campaigns=[obj], actor=request.user, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        operations.delete_campaigns(campaigns=queryset, actor=request.user, request=request)

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        """Summarise what goes with the campaigns instead of listing every recipient.

        Django's default walks and renders every related row: a million links for a big
        campaign. Recipients and runs go with their campaign (runs cannot be deleted on their
        own), so the page shows their numbers; a campaign with an active run is protected.
        """
        campaigns = list(objs)
        ids = [campaign.pk for campaign in campaigns]
        deleted = [
            format_html(
                '{}: <a href="{}">{}</a>',
                capfirst(Campaign._meta.verbose_name),
                reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
                campaign,
            )
            for campaign in campaigns
        ]
        recipients = sum(campaign.total_recipients for campaign in campaigns)
        runs = BatchRun.objects.filter(campaign_id__in=ids).aggregate(
            total=Count("id"), active=Count("id", filter=Q(status__in=BatchRun.ACTIVE_STATUSES))
        )
        model_count = {
            str(Campaign._meta.verbose_name_plural): len(campaigns),
            str(Recipient._meta.verbose_name_plural): recipients,
            str(BatchRun._meta.verbose_name_plural): runs["total"],
            str(BatchRunLog._meta.verbose_name_plural): BatchRunLog.objects.filter(
                run__campaign_id__in=ids
            ).count(),
        }
        perms_needed: set[str] = set()
        if recipients and not request.user.has_perm("campaigns.delete_recipient"):
            perms_needed.add(str(Recipient._meta.verbose_name_plural))
        protected = []
        if runs["active"]:
            protected = [
                _("%(run)s is still active; stop it before deleting the campaign.") % {"run": run}
                for run in BatchRun.objects.filter(
                    campaign_id__in=ids, status__in=BatchRun.ACTIVE_STATUSES
                ).select_related("campaign")
            ]
        return deleted, model_count, perms_needed, protected

    # --- the campaign page: Overview and Recipients ---------------------------------------
    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Campaign | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            user = request.user
            context["can_import_recipients"] = user.has_perm("campaigns.import_recipients")
            context["can_export_recipients"] = user.has_perm("campaigns.export_recipients")
            if user.has_perm("campaigns.view_recipient"):
                context.update(recipients_section(campaign=obj, params=request.GET))
            context.update(batch_views.campaign_page_context(request=request, campaign=obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- import and export (the views are engineer A's campaigns.admin_import_export) -----
    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path(
                "batch-guide/",
                wrap(self.batch_guide_view),
                name="{}_{}_batch_guide".format(*info),
            ),
            path(
                "<path:object_id>/send-batch/",
                wrap(self.send_batch_view),
                name="{}_{}_send_batch".format(*info),
            ),
            path(
                "<path:object_id>/import/",
                wrap(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            path(
                "<path:object_id>/export/",
                wrap(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        # admin_view only checks is_staff; the permission is checked here as well.
        if not request.user.has_perm("campaigns.import_recipients"):
            raise PermissionDenied
        from campaigns.admin_import_export import import_recipients_view

        return import_recipients_view(self, request, object_id)

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        if not request.user.has_perm("campaigns.export_recipients"):
            raise PermissionDenied
        from campaigns.admin_import_export import export_recipients_view

        return export_recipients_view(self, request, object_id)

    # --- Manual Batch Processing (the pages are in campaigns.admin.batch_views) -----------
    @admin.action(permissions=["run_batch"], description=gettext_lazy("Send Batch Manually"))
    def send_batch_manually(
        self, request: HttpRequest, queryset: QuerySet[Campaign]
    ) -> HttpResponseBase | None:
        """Open the configuration page of exactly one campaign that can be sent."""
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(
                request,
                _("Select exactly one campaign to send a batch manually."),
                messages.ERROR,
            )
            return None
        campaign = selected[0]
        refusal = batch_views.status_refusal(campaign)
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return None
        active = batch_views.active_run_of(campaign)
        if active is not None:
            self.message_user(
                request,
                _("A batch run is already active for this campaign — here is its progress."),
                messages.WARNING,
            )
            return HttpResponseRedirect(batch_views.progress_url(active))
        if campaign.pending_count == 0:
            self.message_user(request, str(NoPendingRecipients()), messages.ERROR)
            return None
        return HttpResponseRedirect(batch_views.config_url(campaign))

    def send_batch_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        return batch_views.send_batch_view(self, request, object_id)

    def batch_guide_view(self, request: HttpRequest) -> HttpResponseBase:
        return batch_views.guide_view(request)
