"""Admin forms: shape checks for template parameters and phone normalisation."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext as _

from campaigns.models import Campaign, Recipient
from campaigns.phones import InvalidPhoneNumber, normalise_phone

# WhatsApp named template parameters: lowercase letters, digits and underscores.
PARAMETER_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
PARAMETER_NAME_MAX_LENGTH = 64
_EXAMPLE = '[{"name": "participant_name", "value": "Peserta"}]'


def clean_parameter_value(value: Any, *, where: str) -> str:
    """A template value as text; numbers are accepted, anything else is an error."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValidationError(
        _("%(where)s: the value must be text or a number.") % {"where": where}, code="value"
    )


def clean_template_parameters(raw: Any) -> list[dict[str, str]]:
    """Check ``[{"name": ..., "value": ...}, ...]`` and return it with values as text."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValidationError(
            _("Enter a JSON list of parameters, for example %(example)s.") % {"example": _EXAMPLE},
            code="not_a_list",
        )
    cleaned: list[dict[str, str]] = []
    seen: set[str] = set()
    for position, item in enumerate(raw, start=1):
        where = _("Parameter %(n)d") % {"n": position}
        if not isinstance(item, dict) or set(item) != {"name", "value"}:
            raise ValidationError(
                _('%(where)s must be an object with exactly the keys "name" and "value".')
                % {"where": where},
                code="item_shape",
            )
        name = item["name"]
        if (
            not isinstance(name, str)
            or len(name) > PARAMETER_NAME_MAX_LENGTH
            or not PARAMETER_NAME.match(name)
        ):
            raise ValidationError(
                _(
                    "%(where)s: the name must be lowercase letters, digits and underscores "
                    "(at most %(max)d characters), like participant_name."
                )
                % {"where": where, "max": PARAMETER_NAME_MAX_LENGTH},
                code="name",
            )
        if name in seen:
            raise ValidationError(
                _('%(where)s: the name "%(name)s" is used twice.') % {"where": where, "name": name},
                code="duplicate",
            )
        seen.add(name)
        cleaned.append({"name": name, "value": clean_parameter_value(item["value"], where=where)})
    return cleaned


def clean_recipient_variables(raw: Any) -> dict[str, str]:
    """Check a recipient's ``{"name": "value"}`` object and return it with values as text."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValidationError(
            _('Enter a JSON object of values by name, for example {"participant_name": "Budi"}.'),
            code="not_an_object",
        )
    cleaned: dict[str, str] = {}
    for name, value in raw.items():
        if not name.strip():
            raise ValidationError(_("A variable name cannot be empty."), code="name")
        cleaned[name] = clean_parameter_value(value, where=name)
    return cleaned


class IndentedJSONField(forms.JSONField):
    """A JSON form field shown indented, one parameter per line, instead of one long line."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class CampaignAdminForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "template_name",
            "template_language",
            "template_parameters",
            "named_parameters",
        ]
        field_classes = {"template_parameters": IndentedJSONField}
        widgets = {
            "template_parameters": forms.Textarea(
                attrs={"rows": 8, "cols": 80, "style": "font-family: monospace"}
            )
        }

    def clean_template_parameters(self) -> list[dict[str, str]]:
        return clean_template_parameters(self.cleaned_data.get("template_parameters"))


class RecipientAdminForm(forms.ModelForm):
    class Meta:
        model = Recipient
        fields = ["campaign", "phone_number", "name", "variables"]
        field_classes = {"variables": IndentedJSONField}

    def clean_phone_number(self) -> str:
        try:
            return normalise_phone(self.cleaned_data.get("phone_number"))
        except InvalidPhoneNumber as exc:
            raise ValidationError(exc.reason, code="invalid_phone") from exc

    def clean_variables(self) -> dict[str, str]:
        return clean_recipient_variables(self.cleaned_data.get("variables"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The campaign is read-only on the change form, so Django's own unique check (which
        # skips constraints over fields missing from the form) cannot be relied on here.
        campaign = cleaned.get("campaign") if "campaign" in self.fields else self.instance.campaign
        phone = cleaned.get("phone_number")
        if campaign is not None and phone and "phone_number" in self.fields:
            duplicates = Recipient.objects.filter(campaign=campaign, phone_number=phone)
            if self.instance.pk is not None:
                duplicates = duplicates.exclude(pk=self.instance.pk)
            if duplicates.exists():
                self.add_error(
                    "phone_number",
                    ValidationError(
                        _("%(phone)s is already a recipient of this campaign.") % {"phone": phone},
                        code="duplicate",
                    ),
                )
        return cleaned
