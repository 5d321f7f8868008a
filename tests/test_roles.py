"""setup_roles gives each group exactly its permissions, however often it runs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from campaigns.roles import AUDITORS, OPERATORS, setup_roles

pytestmark = pytest.mark.django_db

OPERATOR_PERMISSIONS = {
    "campaigns.add_campaign",
    "campaigns.change_campaign",
    "campaigns.delete_campaign",
    "campaigns.view_campaign",
    "campaigns.add_recipient",
    "campaigns.change_recipient",
    "campaigns.delete_recipient",
    "campaigns.view_recipient",
    "campaigns.view_batchrun",
    "campaigns.view_batchrunlog",
    "campaigns.view_auditlog",
    "campaigns.run_batch",
    "campaigns.import_recipients",
    "campaigns.export_recipients",
    "campaigns.view_suppression",
    "campaigns.add_suppression",
    "campaigns.delete_suppression",
    "campaigns.view_webhookevent",
    "campaigns.view_unmatchedstatus",
}
AUDITOR_PERMISSIONS = {
    "campaigns.view_campaign",
    "campaigns.view_recipient",
    "campaigns.view_batchrun",
    "campaigns.view_batchrunlog",
    "campaigns.view_auditlog",
    "campaigns.view_suppression",
    "campaigns.view_webhookevent",
    "campaigns.view_unmatchedstatus",
}


def group_permissions(name: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=name).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_setup_roles_creates_operators_and_auditors_with_exactly_their_permissions() -> None:
    call_command("setup_roles", verbosity=0)

    assert group_permissions(OPERATORS) == OPERATOR_PERMISSIONS
    assert group_permissions(AUDITORS) == AUDITOR_PERMISSIONS


def test_running_setup_roles_again_changes_nothing_and_creates_no_duplicates() -> None:
    setup_roles()
    operators_id = Group.objects.get(name=OPERATORS).pk

    setup_roles()

    assert Group.objects.filter(name__in=[OPERATORS, AUDITORS]).count() == 2
    assert Group.objects.get(name=OPERATORS).pk == operators_id
    assert group_permissions(OPERATORS) == OPERATOR_PERMISSIONS


def test_setup_roles_removes_permissions_someone_added_by_hand() -> None:
    setup_roles()
    auditors = Group.objects.get(name=AUDITORS)
    auditors.permissions.add(Permission.objects.get(codename="delete_campaign"))
    auditors.permissions.remove(Permission.objects.get(codename="view_auditlog"))

    setup_roles()

    assert group_permissions(AUDITORS) == AUDITOR_PERMISSIONS


def test_auditors_can_hold_no_write_permission() -> None:
    setup_roles()

    assert all(perm.split(".")[1].startswith("view_") for perm in group_permissions(AUDITORS))
