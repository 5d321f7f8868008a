"""The campaign's Import recipients and Export CSV pages (wired in CampaignAdmin.get_urls)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from campaigns.exporting import start_export
from campaigns.forms import ImportRecipientsForm
from campaigns.importing import ImportResult, RecipientImportError, import_recipients
from campaigns.models import Campaign

IMPORT_TEMPLATE = "admin/campaigns/campaign/import_recipients.html"


def import_recipients_view(
    model_admin: admin.ModelAdmin[Campaign], request: HttpRequest, object_id: str
) -> HttpResponse:
    """GET: the upload form. POST: import the file and show what happened to every row."""
    if not request.user.has_perm("campaigns.import_recipients"):
        raise PermissionDenied
    campaign = model_admin.get_object(request, unquote(object_id))
    if campaign is None:
        return _campaign_not_found(model_admin, request)

    result: ImportResult | None = None
    if request.method == "POST":
        form = ImportRecipientsForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = import_recipients(
                    campaign=campaign,
                    fileobj=upload,
                    filename=upload.name or "",
                    actor=request.user,
                    request=request,
                    via="admin",
                )
            except RecipientImportError as exc:
                form.add_error("file", exc.message)
            else:
                campaign.refresh_from_db()
                form = ImportRecipientsForm()
    else:
        form = ImportRecipientsForm()

    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Import recipients"),
        "subtitle": str(campaign),
        "campaign": campaign,
        "form": form,
        "result": result,
        "max_file_size": settings.IMPORT_MAX_FILE_BYTES,
        "region": settings.DEFAULT_PHONE_REGION,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, IMPORT_TEMPLATE, context)


def export_recipients_view(
    model_admin: admin.ModelAdmin[Campaign], request: HttpRequest, object_id: str
) -> StreamingHttpResponse | HttpResponseRedirect:
    """The campaign's recipients as a CSV download, audited before the first byte is sent."""
    if not request.user.has_perm("campaigns.export_recipients"):
        raise PermissionDenied
    campaign = model_admin.get_object(request, unquote(object_id))
    if campaign is None:
        return _campaign_not_found(model_admin, request)
    export = start_export(campaign=campaign, actor=request.user, request=request)
    response = StreamingHttpResponse(export.chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


def _campaign_not_found(
    model_admin: admin.ModelAdmin[Campaign], request: HttpRequest
) -> HttpResponseRedirect:
    messages.warning(request, _("Campaign not found"))
    changelist = reverse(
        "admin:campaigns_campaign_changelist", current_app=model_admin.admin_site.name
    )
    return HttpResponseRedirect(changelist)
