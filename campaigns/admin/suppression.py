"""The suppression list: everyone with the view permission reads it; operators add and remove."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns import suppression
from campaigns.admin.base import StrictActionsMixin
from campaigns.models import Suppression
from campaigns.phones import InvalidPhoneNumber, normalise_phone


class SuppressionAddForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ("phone_number", "detail")
        labels = {"detail": gettext_lazy("note")}
        help_texts = {
            "phone_number": gettext_lazy(
                "Any common format; numbers without a country code are read in the default "
                "region (0812… becomes +62812…)."
            ),
            "detail": gettext_lazy("Why this number must not be sent to (shown in the list)."),
        }

    def clean_phone_number(self) -> str:
        try:
            phone = normalise_phone(self.cleaned_data["phone_number"])
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(exc.reason) from exc
        if Suppression.objects.filter(phone_number=phone).exists():
            raise forms.ValidationError(
                _("%(phone)s is already on the suppression list.") % {"phone": phone}
            )
        return phone


@admin.register(Suppression)
class SuppressionAdmin(StrictActionsMixin, admin.ModelAdmin):
    list_display = ("phone_number", "reason", "source", "detail", "created_by", "created_at")
    list_filter = ("reason", "source", ("created_at", admin.DateFieldListFilter))
    search_fields = ("phone_number", "detail")
    search_help_text = gettext_lazy("Search by phone number (any format) or detail.")
    list_select_related = ("created_by",)
    form = SuppressionAddForm
    readonly_fields = ("reason", "source", "created_by", "created_at")

    def get_fields(self, request: HttpRequest, obj: Suppression | None = None) -> Any:
        if obj is None:
            return ("phone_number", "detail")
        return ("phone_number", "reason", "source", "detail", "created_by", "created_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An entry is added or removed, never edited: the audit trail tells both.
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Suppression], search_term: str
    ) -> tuple[QuerySet[Suppression], bool]:
        try:
            phone = normalise_phone(search_term)
        except InvalidPhoneNumber:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(phone_number=phone), False

    def save_model(
        self, request: HttpRequest, obj: Suppression, form: forms.ModelForm, change: bool
    ) -> None:
        row = suppression.suppress(
            phone_number=obj.phone_number,
            reason=Suppression.Reason.MANUAL,
            source=Suppression.Source.ADMIN,
            detail=obj.detail,
            actor=request.user,
            request=request,
        )
        # None: added by someone else a moment ago; the number is suppressed either way.
        saved = row or Suppression.objects.get(phone_number=obj.phone_number)
        obj.pk, obj.created_at = saved.pk, saved.created_at

    def delete_model(self, request: HttpRequest, obj: Suppression) -> None:
        suppression.remove(suppressions=[obj], actor=request.user, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Suppression]) -> None:
        suppression.remove(suppressions=queryset, actor=request.user, request=request)
