"""The audit trail: nobody changes it, it outlives what it mentions, its export is exact."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.urls import reverse

from campaigns import audit
from campaigns.models import AuditLog, AuditLogIsAppendOnly, Campaign
from tests.factories import make_campaign

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    not settings.IS_POSTGRES, reason="the append-only trigger exists on PostgreSQL only"
)


@pytest.fixture
def entry(campaign: Campaign) -> AuditLog:
    return audit.record(action="campaign.create", obj=campaign, details={"note": "original"})


def export_rows(client: Client, params: dict[str, str] | None = None) -> list[dict[str, str]]:
    response = client.get(reverse("admin:campaigns_auditlog_export"), params or {})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- immutable in the admin -------------------------------------------------------------------


def test_superuser_cannot_add_change_or_delete_audit_rows_in_the_admin(
    admin_client: Client, entry: AuditLog
) -> None:
    change_url = reverse("admin:campaigns_auditlog_change", args=[entry.pk])
    add_url = reverse("admin:campaigns_auditlog_add")
    delete_url = reverse("admin:campaigns_auditlog_delete", args=[entry.pk])

    view = admin_client.get(change_url)

    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    assert admin_client.post(change_url, {"action": "forged"}).status_code == 403
    assert admin_client.get(add_url).status_code == 403
    assert admin_client.post(add_url, {"action": "forged"}).status_code == 403
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.action == "campaign.create"
    assert AuditLog.objects.count() == 1


def test_superuser_gets_no_delete_action_on_the_audit_log(
    admin_client: Client, entry: AuditLog
) -> None:
    changelist = reverse("admin:campaigns_auditlog_changelist")

    page = admin_client.get(changelist).content.decode()
    response = admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes", "index": 0},
    )

    assert "delete_selected" not in page
    assert response.status_code == 403
    assert AuditLog.objects.filter(pk=entry.pk).exists()


# --- immutable in the database ----------------------------------------------------------------


def test_the_orm_refuses_to_update_or_delete_audit_rows(entry: AuditLog) -> None:
    with pytest.raises(AuditLogIsAppendOnly):
        AuditLog.objects.filter(pk=entry.pk).update(action="forged")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditLog.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    entry.action = "forged"
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()


@postgres_only
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE campaigns_auditlog SET action = 'forged' WHERE id = %s",
        "DELETE FROM campaigns_auditlog WHERE id = %s",
    ],
)
def test_postgresql_rejects_raw_sql_that_rewrites_the_trail(entry: AuditLog, sql: str) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [entry.pk])
    entry.refresh_from_db()
    assert entry.action == "campaign.create"


# --- the trail outlives what it mentions ------------------------------------------------------


def test_deleting_a_user_in_the_admin_keeps_their_audit_rows(admin_client: Client) -> None:
    leaving = User.objects.create_user("leaving", password="leaving-password-1", is_staff=True)
    audit.record(action="campaign.create", actor=leaving, obj=make_campaign(created_by=leaving))

    response = admin_client.post(
        reverse("admin:auth_user_delete", args=[leaving.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not User.objects.filter(username="leaving").exists()
    row = AuditLog.objects.get(action="campaign.create")
    assert (row.actor_username, row.actor_id) == ("leaving", leaving.pk)
    assert Campaign.objects.get().created_by is None


# --- the admin list and its CSV export --------------------------------------------------------


def test_audit_list_filters_by_actor_action_and_system(
    admin_client: Client, operator: User, campaign: Campaign
) -> None:
    audit.record(action="campaign.change", actor=operator, obj=campaign)
    audit.record(action="run.recover", obj=campaign)
    changelist = reverse("admin:campaigns_auditlog_changelist")

    def results(params: dict[str, str]) -> str:
        page = admin_client.get(changelist, params).content.decode()
        start = page.index('id="result_list"')
        return page[start : page.index("</table>", start)]

    by_actor = results({"actor": "op"})
    by_system = results({"actor": "(system)"})
    by_action = results({"action": "run.recover"})

    assert "campaign.change" in by_actor and "run.recover" not in by_actor
    assert "run.recover" in by_system and "campaign.change" not in by_system
    assert "run.recover" in by_action and "campaign.change" not in by_action


def test_export_contains_exactly_the_filtered_rows(
    auditor_client: Client, operator: User, campaign: Campaign
) -> None:
    audit.record(action="campaign.change", actor=operator, obj=campaign, details={"n": 1})
    audit.record(action="campaign.change", actor=operator, obj=campaign, details={"n": 2})
    audit.record(action="recipient.delete", actor=operator, obj=campaign)
    audit.record(action="campaign.change", obj=campaign)

    rows = export_rows(auditor_client, {"actor": "op", "action": "campaign.change"})

    assert [json.loads(row["details"]) for row in rows] == [{"n": 2}, {"n": 1}]
    assert {row["actor"] for row in rows} == {"op"}
    assert rows[0]["object"] == campaign.name
    assert rows[0]["object_id"] == str(campaign.pk)


def test_export_respects_the_search_and_ignores_the_page(
    auditor_client: Client, campaign: Campaign
) -> None:
    other = make_campaign(name="Webinar Surabaya")
    for _ in range(3):
        audit.record(action="campaign.change", obj=other)
    audit.record(action="campaign.change", obj=campaign)

    rows = export_rows(auditor_client, {"q": "Surabaya", "p": "1"})

    assert len(rows) == 3
    assert {row["object"] for row in rows} == {"Webinar Surabaya"}


def test_export_is_itself_audited_and_not_part_of_its_own_file(
    auditor_client: Client, entry: AuditLog
) -> None:
    rows = export_rows(auditor_client)

    assert [row["action"] for row in rows] == ["campaign.create"]
    export = AuditLog.objects.get(action="auditlog.export")
    assert export.actor_username == "aud"
    assert export.details["rows"] == 1
    assert export.ip_address == "127.0.0.1"


def test_export_defuses_spreadsheet_formulas(auditor_client: Client) -> None:
    audit.record(action="campaign.create", obj=make_campaign(name="=HYPERLINK(1)"))

    rows = export_rows(auditor_client, {"action": "campaign.create"})

    assert rows[0]["object"] == "'=HYPERLINK(1)"


def test_export_button_carries_the_current_filters(auditor_client: Client, entry: AuditLog) -> None:
    page = auditor_client.get(
        reverse("admin:campaigns_auditlog_changelist"), {"action": "campaign.create"}
    ).content.decode()

    assert reverse("admin:campaigns_auditlog_export") + "?action=campaign.create" in page


def test_export_with_a_bad_filter_goes_back_to_the_list(auditor_client: Client) -> None:
    response = auditor_client.get(
        reverse("admin:campaigns_auditlog_export"), {"created_at__gte": "not-a-date"}
    )

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    assert not AuditLog.objects.filter(action="auditlog.export").exists()
