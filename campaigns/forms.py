"""Forms of the campaign pages outside the admin's own change forms."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

IMPORT_ACCEPT = (
    ".csv,.txt,.tsv,.xlsx,.xlsm,text/csv,"
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)


class ImportRecipientsForm(forms.Form):
    # Empty files reach the importer, so the admin and the command give the same message.
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        allow_empty_file=True,
        help_text=_(
            "The phone column is the first whose header contains “phone” or “nomor”; the name"
            " column is “name” or “nama”; every other column becomes a template variable."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": IMPORT_ACCEPT}),
    )
