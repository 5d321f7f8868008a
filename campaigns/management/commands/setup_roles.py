"""`manage.py setup_roles`: create or repair the Operators and Auditors groups."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from campaigns.roles import ROLE_PERMISSIONS, MissingPermissions, setup_roles


class Command(BaseCommand):
    help = "Create the Operators and Auditors groups with exactly their permissions (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            setup_roles()
        except MissingPermissions as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"] < 1:
            return
        for group_name, codenames in ROLE_PERMISSIONS.items():
            self.stdout.write(
                _("%(group)s: %(count)d permissions")
                % {"group": group_name, "count": len(codenames)}
            )
