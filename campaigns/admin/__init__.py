"""The Django admin is blastadmin's user interface; one module per model family."""

from django.contrib import admin

from campaigns.admin import suppression, webhooks  # noqa: F401  (they register their admins)
from campaigns.admin.auditlog import AuditLogAdmin
from campaigns.admin.campaign import CampaignAdmin
from campaigns.admin.recipient import RecipientAdmin
from campaigns.admin.runs import BatchRunAdmin, BatchRunLogAdmin

admin.site.site_header = "blastadmin"
admin.site.site_title = "blastadmin"
# At 1280 px the navigation sidebar takes a third of the width, and the run, campaign and
# audit lists then scroll sideways; the breadcrumbs and the index lead everywhere it does.
admin.site.enable_nav_sidebar = False

__all__ = ["AuditLogAdmin", "BatchRunAdmin", "BatchRunLogAdmin", "CampaignAdmin", "RecipientAdmin"]
