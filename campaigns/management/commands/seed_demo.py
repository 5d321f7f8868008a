"""`manage.py seed_demo`: demo users (printed passwords) and a demo campaign."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from campaigns.demo import DEMO_USERS, DemoRefused, seed_demo


class Command(BaseCommand):
    help = (
        "Create the users admin, operator and auditor and a demo campaign with Indonesian "
        "recipients (idempotent). Refuses to run with DEBUG off unless --force."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give the existing demo users new passwords (printed once).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (it creates a superuser).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = seed_demo(reset_passwords=options["reset_passwords"], force=options["force"])
        except DemoRefused as exc:
            raise CommandError(str(exc)) from exc

        for demo_user in DEMO_USERS:
            username = demo_user.username
            if username in result.passwords:
                state = _("created") if username in result.users_created else _("password reset")
                self.stdout.write(
                    _("User %(username)s (%(state)s) password: %(password)s")
                    % {"username": username, "state": state, "password": result.passwords[username]}
                )
            else:
                self.stdout.write(
                    _(
                        "User %(username)s exists; password unchanged "
                        "(--reset-passwords to set one)."
                    )
                    % {"username": username}
                )
        campaign = result.campaign
        if campaign is not None:
            message = (
                _('Campaign "%(name)s" (id %(id)s) created with %(total)d recipients.')
                if result.campaign_created
                else _('Campaign "%(name)s" (id %(id)s) already present; nothing added.')
            )
            self.stdout.write(
                message
                % {"name": campaign.name, "id": campaign.pk, "total": campaign.total_recipients}
            )
        if result.passwords:
            self.stdout.write(
                self.style.WARNING(_("These passwords are shown only once; store them now."))
            )
