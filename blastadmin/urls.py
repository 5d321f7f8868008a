"""URL configuration: the admin is the product; everything else hangs off it."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from campaigns import webhook_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("webhooks/whatsapp/", webhook_views.whatsapp_webhook, name="whatsapp_webhook"),
    path(
        "admin/campaigns/campaign/<int:campaign_id>/delivery-funnel/",
        admin.site.admin_view(webhook_views.delivery_funnel_fragment),
        name="campaign_delivery_funnel",
    ),
    path("admin/", admin.site.urls),
]
