"""The WhatsApp webhook endpoint and the live delivery-funnel fragment: thin HTTP wrappers."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from campaigns import webhooks
from campaigns.audit import client_ip
from campaigns.models import Campaign
from campaigns.whatsapp.signature import SIGNATURE_HEADER

FUNNEL_TEMPLATE = "admin/campaigns/includes/delivery_funnel.html"


@csrf_exempt  # Meta cannot send a CSRF token; the body's HMAC signature authenticates it.
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    """GET: Meta's subscription check. POST: statuses and messages, signed by Meta."""
    if request.method == "GET":
        challenge = request.GET.get("hub.challenge")
        if webhooks.verify_subscription(
            mode=request.GET.get("hub.mode"),
            token=request.GET.get("hub.verify_token"),
            challenge=challenge,
        ):
            return HttpResponse(challenge, content_type="text/plain; charset=utf-8")
        return HttpResponse(status=403)
    receipt = webhooks.receive(
        body=request.body,
        signature=request.headers.get(SIGNATURE_HEADER),
        ip_address=client_ip(request),
    )
    return HttpResponse(status=receipt.http_status)


@require_GET
def delivery_funnel_fragment(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The funnel section alone, for htmx to swap in (wrapped in ``admin_view`` in urls)."""
    if not request.user.has_perm("campaigns.view_campaign"):
        raise PermissionDenied
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    return render(request, FUNNEL_TEMPLATE, {"campaign": campaign})
