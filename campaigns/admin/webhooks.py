"""Stored webhook payloads and unmatched statuses: read-only for everybody."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.db.models.functions import Length
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.runs import ReadOnlyAdmin
from campaigns.models import UnmatchedStatus, WebhookEvent

# A 1,000-status payload is ~400 kB; the page shows the start of anything bigger.
BODY_ON_PAGE_BYTES = 512 * 1024


def readable_body(body: bytes) -> str:
    """The raw body as text, indented when it is JSON, cut at ``BODY_ON_PAGE_BYTES``."""
    text = body[:BODY_ON_PAGE_BYTES].decode("utf-8", errors="replace")
    if len(body) <= BODY_ON_PAGE_BYTES:
        with contextlib.suppress(ValueError, RecursionError):
            text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    else:
        text += "\n… " + _("(%(n)s bytes in all)") % {"n": len(body)}
    return text


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "result", "signature_valid", "size", "counts", "ip_address")
    list_filter = ("result", "signature_valid", ("received_at", admin.DateFieldListFilter))
    date_hierarchy = "received_at"
    fields = (
        "received_at",
        "result",
        "signature_valid",
        "processed_at",
        "ip_address",
        "summary",
        "error",
        "raw_body",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEvent]:
        # The list never loads the bodies, only their sizes.
        return super().get_queryset(request).defer("body").annotate(body_size=Length("body"))

    @admin.display(description=gettext_lazy("size (bytes)"), ordering="body_size")
    def size(self, obj: WebhookEvent) -> int:
        return int(getattr(obj, "body_size", 0) or 0)

    @admin.display(description=gettext_lazy("summary"))
    def counts(self, obj: WebhookEvent) -> str:
        return ", ".join(f"{key} {value}" for key, value in (obj.summary or {}).items() if value)

    @admin.display(description=gettext_lazy("raw body"))
    def raw_body(self, obj: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", readable_body(bytes(obj.body)))


class MatchedFilter(admin.SimpleListFilter):
    title = gettext_lazy("matched")
    parameter_name = "matched"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("Matched to a recipient")), ("no", _("Still unmatched"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[UnmatchedStatus]
    ) -> QuerySet[UnmatchedStatus]:
        if self.value() == "yes":
            return queryset.filter(recipient_id__isnull=False)
        if self.value() == "no":
            return queryset.filter(recipient_id__isnull=True)
        return queryset


@admin.register(UnmatchedStatus)
class UnmatchedStatusAdmin(ReadOnlyAdmin):
    list_display = (
        "received_at",
        "wamid",
        "status",
        "timestamp",
        "recipient_wa_id",
        "phone_number_id",
        "error_code",
        "matched_recipient",
    )
    list_filter = ("status", MatchedFilter, "error_code")
    search_fields = ("wamid", "recipient_wa_id", "recipient_user_id")
    search_help_text = gettext_lazy("Search by wamid or the recipient's WhatsApp id.")
    readonly_fields = ("matched_recipient",)

    @admin.display(description=gettext_lazy("matched recipient"), ordering="recipient_id")
    def matched_recipient(self, obj: UnmatchedStatus) -> str:
        if obj.recipient_id is None:
            return ""
        url = reverse("admin:campaigns_recipient_change", args=[obj.recipient_id])
        return format_html('<a href="{}">#{}</a>', url, obj.recipient_id)
