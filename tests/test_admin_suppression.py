"""The suppression list in the admin: everyone with view rights sees it; operators add and
remove numbers, audited; auditors can do neither."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns.models import AuditLog, Suppression
from campaigns.suppression import suppress

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:campaigns_suppression_changelist")
ADD = reverse("admin:campaigns_suppression_add")


@pytest.fixture
def entry() -> Suppression:
    row = suppress(
        phone_number="+6281277776666", reason="opt_out_word", source="webhook", detail="STOP"
    )
    assert row is not None
    return row


def test_auditors_see_the_list_and_an_entry_but_cannot_change_it(
    auditor_client: Client, entry: Suppression
) -> None:
    listing = auditor_client.get(CHANGELIST)
    page = auditor_client.get(reverse("admin:campaigns_suppression_change", args=[entry.pk]))

    assert listing.status_code == 200 and b"+6281277776666" in listing.content
    assert page.status_code == 200
    assert b"STOP" in page.content
    assert auditor_client.get(ADD).status_code == 403
    delete_url = reverse("admin:campaigns_suppression_delete", args=[entry.pk])
    assert auditor_client.post(delete_url, {"post": "yes"}).status_code == 403
    forced_action = auditor_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert forced_action.status_code == 403
    assert Suppression.objects.filter(pk=entry.pk).exists()


def test_an_operator_adds_a_number_in_any_format_and_it_is_audited(
    operator_client: Client, operator: User
) -> None:
    response = operator_client.post(
        ADD, {"phone_number": "0812-7777-5555", "detail": "asked by phone"}
    )

    assert response.status_code == 302
    row = Suppression.objects.get()
    assert (row.phone_number, row.reason, row.source, row.detail, row.created_by) == (
        "+6281277775555",
        Suppression.Reason.MANUAL,
        Suppression.Source.ADMIN,
        "asked by phone",
        operator,
    )
    audit = AuditLog.objects.get(action="suppression.add")
    assert (audit.actor_username, audit.object_id) == ("op", str(row.pk))
    assert audit.details["phone_number"] == "+6281277775555"


def test_adding_a_number_already_on_the_list_or_not_a_number_is_a_form_error(
    operator_client: Client, entry: Suppression
) -> None:
    duplicate = operator_client.post(ADD, {"phone_number": "+62 812 7777 6666"})
    invalid = operator_client.post(ADD, {"phone_number": "12"})

    assert duplicate.status_code == 200 and b"already on the suppression list" in duplicate.content
    assert invalid.status_code == 200 and invalid.context["adminform"].form.errors
    assert Suppression.objects.count() == 1


def test_an_operator_removes_a_number_and_it_is_audited(
    operator_client: Client, entry: Suppression
) -> None:
    response = operator_client.post(
        reverse("admin:campaigns_suppression_delete", args=[entry.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Suppression.objects.exists()
    audit = AuditLog.objects.get(action="suppression.remove")
    assert (audit.actor_username, audit.details["phone_number"], audit.details["reason"]) == (
        "op",
        "+6281277776666",
        "opt_out_word",
    )


def test_an_operator_removes_several_with_the_list_action(
    operator_client: Client, entry: Suppression
) -> None:
    other = suppress(phone_number="+6281277770000", reason="manual", source="admin")
    assert other is not None

    operator_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [entry.pk, other.pk], "post": "yes"},
    )

    assert not Suppression.objects.exists()
    assert AuditLog.objects.filter(action="suppression.remove").count() == 2


def test_nobody_edits_an_entry(operator_client: Client, entry: Suppression) -> None:
    url = reverse("admin:campaigns_suppression_change", args=[entry.pk])

    operator_client.post(url, {"phone_number": "+6281200000001", "detail": "changed"})

    entry.refresh_from_db()
    assert (entry.phone_number, entry.detail) == ("+6281277776666", "STOP")


def test_the_list_finds_a_number_typed_the_local_way(
    auditor_client: Client, entry: Suppression
) -> None:
    found = auditor_client.get(CHANGELIST, {"q": "0812 7777 6666"})
    missed = auditor_client.get(CHANGELIST, {"q": "0812 0000 0000"})

    assert b"+6281277776666" in found.content
    assert b"+6281277776666" not in missed.content
