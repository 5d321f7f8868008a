"""Import recipients from a CSV or XLSX file into a campaign, like the admin's upload page.

Prints the summary and every row that was not imported. Exits non-zero (CommandError) when
the campaign, the file or the --as user does not exist, or when the file cannot be imported;
nothing is written then.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from campaigns.importing import ImportResult, RecipientImportError, import_recipients
from campaigns.models import Campaign

VIA = "command line"


class Command(BaseCommand):
    help = "Import recipients from a CSV or XLSX file into a campaign."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("campaign_id", type=int, help="Id of the campaign to import into.")
        parser.add_argument("file", type=Path, help="CSV or XLSX file.")
        parser.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            help="User recorded in the audit log (default: the system).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = Campaign.objects.filter(pk=options["campaign_id"]).first()
        if campaign is None:
            raise CommandError(_("Campaign not found"))
        actor = None
        if options["username"]:
            user_model = get_user_model()
            actor = user_model._default_manager.filter(
                **{user_model.USERNAME_FIELD: options["username"]}
            ).first()
            if actor is None:
                raise CommandError(_("User “%(name)s” not found") % {"name": options["username"]})
        path: Path = options["file"]
        try:
            with path.open("rb") as fileobj:
                result = import_recipients(
                    campaign=campaign, fileobj=fileobj, filename=path.name, actor=actor, via=VIA
                )
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc.strerror or exc}
            ) from exc
        except RecipientImportError as exc:
            raise CommandError(exc.message) from exc
        self._report(campaign, result)

    def _report(self, campaign: Campaign, result: ImportResult) -> None:
        self.stdout.write(
            _(
                "%(file)s → campaign #%(id)s “%(name)s”: %(rows)d rows read, %(created)d imported,"
                " %(in_file)d duplicates in the file, %(existing)d already in the campaign,"
                " %(invalid)d invalid."
            )
            % {
                "file": result.filename,
                "id": campaign.pk,
                "name": campaign.name,
                "rows": result.rows_read,
                "created": result.created,
                "in_file": result.duplicates_in_file,
                "existing": result.duplicates_existing,
                "invalid": result.invalid,
            }
        )
        if result.rejected:
            self.stdout.write(_("Rows not imported:"))
            for row in result.rejected:
                self.stdout.write(
                    _("  row %(row)d: %(value)s — %(reason)s")
                    % {
                        "row": row.row_number,
                        "value": row.value or _("(empty)"),
                        "reason": row.reason,
                    }
                )
