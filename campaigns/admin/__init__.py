"""The Django admin is blastadmin's user interface; one module per model family."""

from django.contrib import admin

from campaigns.admin import suppression, webhooks  # noqa: F401  (they register their admins)
from campaigns.admin.auditlog import AuditLogAdmin
from campaigns.admin.campaign import CampaignAdmin
from campaigns.admin.recipient import RecipientAdmin
from campaigns.admin.runs import BatchRunAdmin, BatchRunLogAdmin

admin.site.site_header = "blastadmin"
admin.site.site_title = "blastadmin"

__all__ = ["AuditLogAdmin", "BatchRunAdmin", "BatchRunLogAdmin", "CampaignAdmin", "RecipientAdmin"]
