"""The two staff roles, as Django groups with exactly these permissions."""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils.translation import gettext as _

APP_LABEL = "campaigns"
OPERATORS = "Operators"
AUDITORS = "Auditors"

_VIEW_ONLY = (
    "view_campaign",
    "view_recipient",
    "view_batchrun",
    "view_batchrunlog",
    "view_auditlog",
    "view_suppression",
    "view_webhookevent",
    "view_unmatchedstatus",
)

# Codenames within the campaigns app; setup_roles makes each group hold exactly these.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    OPERATORS: (
        *_VIEW_ONLY,
        "add_campaign",
        "change_campaign",
        "delete_campaign",
        "add_recipient",
        "change_recipient",
        "delete_recipient",
        "run_batch",
        "import_recipients",
        "export_recipients",
        "add_suppression",
        "delete_suppression",
    ),
    AUDITORS: _VIEW_ONLY,
}


class MissingPermissions(RuntimeError):
    """A permission a role needs does not exist (migrations not applied?)."""


def setup_roles() -> None:
    """Create or repair the Operators and Auditors groups; running it again changes nothing."""
    # Permissions are normally created after `migrate`; creating them here as well lets the
    # command run on a database where post_migrate was skipped (e.g. migrate --skip-checks).
    create_permissions(apps.get_app_config(APP_LABEL), verbosity=0)
    with transaction.atomic():
        for group_name, codenames in ROLE_PERMISSIONS.items():
            permissions = list(
                Permission.objects.filter(content_type__app_label=APP_LABEL, codename__in=codenames)
            )
            missing = set(codenames) - {p.codename for p in permissions}
            if missing:
                raise MissingPermissions(
                    _(
                        "Permissions missing for %(group)s: %(missing)s. "
                        "Run `manage.py migrate` first."
                    )
                    % {"group": group_name, "missing": ", ".join(sorted(missing))}
                )
            group, _created = Group.objects.get_or_create(name=group_name)
            group.permissions.set(permissions)
