"""Audit log admin: read-only for everybody, filterable, exportable as CSV."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect, StreamingHttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.runs import ReadOnlyAdmin
from campaigns.audit import record
from campaigns.models import AuditLog

EXPORT_CHUNK_SIZE = 2000
# Longer object names are cut in the list (the full name is the cell's tooltip).
OBJECT_IN_LIST = 40
CSV_HEADER = (
    "time",
    "actor_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object",
    "ip_address",
    "details",
)
# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ActorFilter(admin.SimpleListFilter):
    title = gettext_lazy("actor")
    parameter_name = "actor"
    # Not a possible username (Django usernames have no parentheses).
    SYSTEM = "(system)"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        usernames = (
            AuditLog.objects.exclude(actor_username="")
            .order_by("actor_username")
            .values_list("actor_username", flat=True)
            .distinct()
        )
        return [(self.SYSTEM, _("System")), *((name, name) for name in usernames)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(actor_username="" if value == self.SYSTEM else value)


def csv_cell(value: object) -> str:
    """Text for one CSV cell, defused so a spreadsheet never runs it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def object_label(entry: AuditLog) -> tuple[str, str]:
    """The entry's object as text, in full and shortened for the list (same if it fits).

    The id is added unless the text already names it (as "Run #12 of …" does).
    """
    full = entry.object_repr
    if entry.object_id and not re.search(rf"#{re.escape(entry.object_id)}\b", full):
        full = f"{full} (#{entry.object_id})"
    return full, Truncator(full).chars(OBJECT_IN_LIST)


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer."""

    def write(self, value: str) -> str:
        return value


def audit_csv_lines(entries: Iterable[AuditLog]) -> Iterator[str]:
    """The CSV export of ``entries``, one line at a time, header first."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for entry in entries:
        yield writer.writerow(
            [
                csv_cell(value)
                for value in (
                    entry.created_at.isoformat(),
                    entry.actor_id,
                    entry.actor_username,
                    entry.action,
                    entry.object_type,
                    entry.object_id,
                    entry.object_repr,
                    entry.ip_address,
                    json.dumps(entry.details, cls=DjangoJSONEncoder, ensure_ascii=False),
                )
            ]
        )


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "object_type", "object", "ip_address")
    list_filter = (ActorFilter, "action", ("created_at", admin.DateFieldListFilter))
    date_hierarchy = "created_at"
    search_fields = ("object_repr", "action", "actor_username")
    search_help_text = gettext_lazy("Search by object, action or actor.")
    fields = (
        "created_at",
        "actor_id",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "ip_address",
        "details_json",
    )
    readonly_fields = fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Already filtered out without the delete permission; explicit, as the trail is
        # append-only by design.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=gettext_lazy("actor"), ordering="actor_username")
    def actor(self, obj: AuditLog) -> str:
        return obj.actor_username or _("system")

    @admin.display(description=gettext_lazy("object"), ordering="object_repr")
    def object(self, obj: AuditLog) -> str:
        full, short = object_label(obj)
        if short == full:
            return full
        return format_html('<span title="{}">{}</span>', full, short)

    @admin.display(description=gettext_lazy("details"))
    def details_json(self, obj: AuditLog) -> str:
        return format_html(
            "<pre>{}</pre>",
            json.dumps(obj.details, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        )

    # --- CSV export of the filtered changelist --------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_export",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """Stream exactly the rows the changelist shows with the same filters and search."""
        if not request.user.has_perm("campaigns.view_auditlog"):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            url = reverse("admin:campaigns_auditlog_changelist")
            return HttpResponseRedirect(f"{url}?{ERROR_FLAG}=1")
        filters = {
            key: values for key, values in request.GET.lists() if key not in (PAGE_VAR, ERROR_FLAG)
        }
        entry = record(
            action="auditlog.export",
            actor=request.user,
            details={"filters": filters, "rows": changelist.result_count},
            request=request,
        )
        # The export's own audit row is not part of what was filtered.
        entries = changelist.queryset.exclude(pk=entry.pk).iterator(chunk_size=EXPORT_CHUNK_SIZE)
        response = StreamingHttpResponse(
            audit_csv_lines(entries), content_type="text/csv; charset=utf-8"
        )
        filename = f"audit-log-{timezone.localtime():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
