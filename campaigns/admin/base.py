"""What every blastadmin ModelAdmin shares."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class StrictActionsMixin(admin.ModelAdmin):
    """Answer 403 to a POSTed action the user may not run.

    Django's own changelist quietly redirects with "No action selected" when the action is
    not offered; a role without write permissions should get a refusal, not a no-op.
    """

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            available = self.get_actions(request)
            if any(name and name not in available for name in request.POST.getlist("action")):
                raise PermissionDenied
        return super().changelist_view(request, extra_context)


class RunBatchPermissionMixin(admin.ModelAdmin):
    """Lets admin actions declare ``permissions=["run_batch"]``."""

    def has_run_batch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.run_batch")


def form_changes(form: forms.ModelForm) -> dict[str, dict[str, Any]]:
    """``{field: {"from": old, "to": new}}`` for every field the form changed (for audit rows)."""
    return {
        name: {"from": form.initial.get(name), "to": form.cleaned_data.get(name)}
        for name in form.changed_data
    }
