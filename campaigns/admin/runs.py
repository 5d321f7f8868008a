"""Batch runs and their activity log: read-only for everybody (the engine writes them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format, localize
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin import batch_views
from campaigns.admin.base import StrictActionsMixin
from campaigns.models import BatchRun, BatchRunLog

# The run page shows the newest entries; the full log is one click away.
ACTIVITY_LOG_ON_PAGE = 200


class ReadOnlyAdmin(StrictActionsMixin, admin.ModelAdmin):
    """Viewable with the view permission; nobody, superusers included, adds, edits or deletes."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def format_duration(duration: timedelta | None) -> str:
    """``1:02:03`` (no microseconds); empty when unknown."""
    if duration is None:
        return ""
    return str(timedelta(seconds=int(duration.total_seconds())))


def run_duration(run: BatchRun) -> timedelta | None:
    """How long the run took, or has taken so far if it is still active."""
    if run.started_at is None:
        return None
    end = run.finished_at or (timezone.now() if run.is_active else None)
    return end - run.started_at if end is not None else None


def configuration_text(run: BatchRun) -> str:
    """A run's configuration in one short cell: ``10 / 5 s / 3`` (batch, delay, retries)."""
    return _("%(batch)s / %(delay)s s / %(retries)s") % {
        "batch": run.batch_size,
        "delay": run.delay_seconds,
        "retries": run.max_retries,
    }


def configuration_legend(run: BatchRun) -> str:
    """What the three figures of :func:`configuration_text` are, for its tooltip."""
    return _("batch size %(batch)s, delay %(delay)s s, max retries %(retries)s") % {
        "batch": run.batch_size,
        "delay": run.delay_seconds,
        "retries": run.max_retries,
    }


@admin.register(BatchRun)
class BatchRunAdmin(ReadOnlyAdmin):
    # What fits a 1280 px screen: the configuration is one column; who stopped a run and why
    # it ended are on its progress page and record.
    list_display = (
        "run",
        "campaign_link",
        "started_by",
        "started",
        "configuration",
        "status",
        "sent_count",
        "failed_count",
        "in_doubt_count",
        "duration",
    )
    # Each run's number leads to its progress page (which links to this record page).
    list_display_links = None
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("campaign__name",)
    list_select_related = ("campaign", "started_by", "stopped_by")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "progress_page",
                    "campaign",
                    "status",
                    "started_by",
                    "stopped_by",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "heartbeat_at",
                    "duration",
                    "end_reason",
                )
            },
        ),
        (gettext_lazy("Configuration"), {"fields": ("batch_size", "delay_seconds", "max_retries")}),
        (
            gettext_lazy("Counts"),
            {
                "fields": (
                    "total_count",
                    "sent_count",
                    "failed_count",
                    "retried_count",
                    "in_doubt_count",
                    "batches_done",
                )
            },
        ),
        (gettext_lazy("Activity log"), {"fields": ("activity_log",)}),
    )
    readonly_fields = ("progress_page", "duration", "activity_log")

    @admin.display(description=gettext_lazy("run"), ordering="id")
    def run(self, obj: BatchRun) -> str:
        return format_html(
            '<a href="{}" title="{}">#{}</a>',
            batch_views.progress_url(obj),
            _("Progress page"),
            obj.pk,
        )

    @admin.display(description=gettext_lazy("progress page"))
    def progress_page(self, obj: BatchRun) -> str:
        return format_html(
            '<a href="{}">{}</a>', batch_views.progress_url(obj), _("Open the progress page")
        )

    # --- the progress page, its live fragment and Stop (views in batch_views) -------------
    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/progress/",
                wrap(self.progress_view),
                name="{}_{}_progress".format(*info),
            ),
            path(
                "<path:object_id>/progress/live/",
                wrap(self.progress_live_view),
                name="{}_{}_progress_live".format(*info),
            ),
            path(
                "<path:object_id>/stop/",
                wrap(self.stop_view),
                name="{}_{}_stop".format(*info),
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        return batch_views.progress_view(self, request, object_id)

    def progress_live_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        return batch_views.progress_live_view(self, request, object_id)

    def stop_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        return batch_views.stop_view(self, request, object_id)

    @admin.display(description=gettext_lazy("duration"))
    def duration(self, obj: BatchRun) -> str:
        return format_duration(run_duration(obj))

    @admin.display(description=gettext_lazy("started"), ordering="created_at")
    def started(self, obj: BatchRun) -> str:
        """When it started sending, or was queued if it never started."""
        return date_format(
            timezone.localtime(obj.started_at or obj.created_at), "SHORT_DATETIME_FORMAT"
        )

    @admin.display(description=gettext_lazy("campaign"), ordering="campaign__name")
    def campaign_link(self, obj: BatchRun) -> str:
        # A plain cell, unlike a foreign-key column (kept on one line), so long names wrap.
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:campaigns_campaign_change", args=[obj.campaign_id]),
            obj.campaign,
        )

    @admin.display(description=gettext_lazy("configuration"))
    def configuration(self, obj: BatchRun) -> str:
        return format_html(
            '<span title="{}">{}</span>', configuration_legend(obj), configuration_text(obj)
        )

    @admin.display(description=gettext_lazy("activity log"))
    def activity_log(self, obj: BatchRun) -> str:
        entries = list(obj.logs.order_by("-id")[:ACTIVITY_LOG_ON_PAGE])
        full_log_url = (
            reverse("admin:campaigns_batchrunlog_changelist")
            + "?"
            + urlencode({"run__id__exact": obj.pk})
        )
        if not entries:
            return _("No activity yet.")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    localize(timezone.localtime(entry.created_at)),
                    entry.get_level_display(),
                    entry.batch_number if entry.batch_number is not None else "",
                    entry.message,
                )
                for entry in entries
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            '<tbody>{}</tbody></table><p><a href="{}">{}</a></p>',
            _("time"),
            _("level"),
            _("batch"),
            _("message"),
            rows,
            full_log_url,
            _("Full activity log of this run (newest first)"),
        )


@admin.register(BatchRunLog)
class BatchRunLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "run", "level", "batch_number", "message")
    list_filter = ("level",)
    search_fields = ("message",)
    list_select_related = ("run", "run__campaign")
