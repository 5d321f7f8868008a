"""Who may do what in the admin: operators manage, auditors only look, strangers log in first."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns import audit
from campaigns.models import AuditLog, BatchRun, BatchRunLog, Campaign, Recipient
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db


@dataclass
class Objects:
    campaign: Campaign
    recipient: Recipient
    run: BatchRun
    log: BatchRunLog
    entry: AuditLog


@pytest.fixture
def objects(campaign: Campaign) -> Objects:
    recipient = add_recipients(campaign, 3)[0]
    run = BatchRun.objects.create(
        campaign=campaign, status=BatchRun.Status.COMPLETED, sent_count=3, total_count=3
    )
    log = BatchRunLog.objects.create(run=run, batch_number=1, message="Batch 1: 3 sent")
    entry = audit.record(action="campaign.create", obj=campaign)
    return Objects(campaign, recipient, run, log, entry)


def admin_url(model: str, view: str, pk: int | None = None) -> str:
    args = [pk] if pk is not None else []
    return reverse(f"admin:campaigns_{model}_{view}", args=args)


def readable_pages(o: Objects) -> list[str]:
    """Pages every role with view permissions may open."""
    return [
        reverse("admin:index"),
        reverse("admin:app_list", args=["campaigns"]),
        admin_url("campaign", "changelist"),
        admin_url("campaign", "change", o.campaign.pk),
        admin_url("campaign", "change", o.campaign.pk) + "?tab=pending&page=1",
        admin_url("campaign", "history", o.campaign.pk),
        admin_url("recipient", "changelist"),
        admin_url("recipient", "change", o.recipient.pk),
        admin_url("recipient", "history", o.recipient.pk),
        admin_url("batchrun", "changelist"),
        admin_url("batchrun", "change", o.run.pk),
        admin_url("batchrun", "history", o.run.pk),
        admin_url("batchrunlog", "changelist"),
        admin_url("batchrunlog", "change", o.log.pk),
        admin_url("auditlog", "changelist"),
        admin_url("auditlog", "change", o.entry.pk),
        admin_url("auditlog", "history", o.entry.pk),
        admin_url("auditlog", "export"),
    ]


def operator_write_pages(o: Objects) -> list[str]:
    return [
        admin_url("campaign", "add"),
        admin_url("campaign", "delete", o.campaign.pk),
        admin_url("recipient", "add"),
        admin_url("recipient", "delete", o.recipient.pk),
    ]


def nobody_writes(o: Objects) -> list[str]:
    """Add and delete pages that exist for nobody: runs, their log and the audit trail."""
    return [
        admin_url("batchrun", "add"),
        admin_url("batchrun", "delete", o.run.pk),
        admin_url("batchrunlog", "add"),
        admin_url("batchrunlog", "delete", o.log.pk),
        admin_url("auditlog", "add"),
        admin_url("auditlog", "delete", o.entry.pk),
    ]


def custom_recipient_views(o: Objects) -> list[str]:
    return [
        admin_url("campaign", "import", o.campaign.pk),
        admin_url("campaign", "export", o.campaign.pk),
    ]


def test_operator_opens_every_page_of_the_campaigns_app(
    operator_client: Client, objects: Objects
) -> None:
    urls = readable_pages(objects) + operator_write_pages(objects) + custom_recipient_views(objects)
    for url in urls:
        assert operator_client.get(url).status_code == 200, url


def test_operator_is_refused_adding_or_deleting_runs_and_audit_rows(
    operator_client: Client, objects: Objects
) -> None:
    for url in nobody_writes(objects):
        assert operator_client.get(url).status_code == 403, url
        assert operator_client.post(url, {"post": "yes"}).status_code == 403, url


def test_auditor_reads_every_page(auditor_client: Client, objects: Objects) -> None:
    for url in readable_pages(objects):
        assert auditor_client.get(url).status_code == 200, url


def test_auditor_sees_change_pages_without_a_save_button(
    auditor_client: Client, objects: Objects
) -> None:
    for url in (
        admin_url("campaign", "change", objects.campaign.pk),
        admin_url("recipient", "change", objects.recipient.pk),
    ):
        page = auditor_client.get(url).content.decode()
        assert 'name="_save"' not in page, url
        assert "Import recipients" not in page
        assert "Export CSV" not in page


def test_auditor_gets_403_on_every_add_and_delete_page_by_get_and_post(
    auditor_client: Client, objects: Objects
) -> None:
    for url in operator_write_pages(objects) + nobody_writes(objects):
        assert auditor_client.get(url).status_code == 403, url
        assert auditor_client.post(url, {"post": "yes"}).status_code == 403, url
    assert Campaign.objects.filter(pk=objects.campaign.pk).exists()
    assert Recipient.objects.filter(pk=objects.recipient.pk).exists()


def test_auditor_gets_403_posting_a_change_form(auditor_client: Client, objects: Objects) -> None:
    campaign_url = admin_url("campaign", "change", objects.campaign.pk)
    response = auditor_client.post(
        campaign_url,
        {
            "name": "Renamed by auditor",
            "template_name": "x",
            "template_language": "id",
            "template_parameters": "[]",
        },
    )
    assert response.status_code == 403
    recipient_url = admin_url("recipient", "change", objects.recipient.pk)
    response = auditor_client.post(
        recipient_url, {"phone_number": "+6281299990000", "name": "x", "variables": "{}"}
    )
    assert response.status_code == 403
    objects.campaign.refresh_from_db()
    objects.recipient.refresh_from_db()
    assert objects.campaign.name != "Renamed by auditor"
    assert objects.recipient.phone_number != "+6281299990000"


@pytest.mark.parametrize("model", ["campaign", "recipient", "batchrun", "auditlog"])
def test_auditor_gets_403_posting_the_delete_action(
    auditor_client: Client, objects: Objects, model: str
) -> None:
    pk = {
        "campaign": objects.campaign.pk,
        "recipient": objects.recipient.pk,
        "batchrun": objects.run.pk,
        "auditlog": objects.entry.pk,
    }[model]
    response = auditor_client.post(
        admin_url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [pk], "post": "yes", "index": 0},
    )
    assert response.status_code == 403
    assert Recipient.objects.count() == 3
    assert BatchRun.objects.filter(pk=objects.run.pk).exists()


def test_auditor_sees_no_actions_on_the_changelists(
    auditor_client: Client, objects: Objects
) -> None:
    for model in ("campaign", "recipient"):
        page = auditor_client.get(admin_url(model, "changelist")).content.decode()
        assert 'name="action"' not in page, model


def test_auditor_gets_403_on_recipient_import_and_export(
    auditor_client: Client, objects: Objects
) -> None:
    for url in custom_recipient_views(objects):
        assert auditor_client.get(url).status_code == 403, url
        assert auditor_client.post(url).status_code == 403, url


def test_staff_without_a_role_gets_403_on_the_custom_views(objects: Objects) -> None:
    client = Client()
    client.force_login(User.objects.create_user("nobody", password="x-password-123", is_staff=True))
    for url in [*custom_recipient_views(objects), admin_url("auditlog", "export")]:
        assert client.get(url).status_code == 403, url


def test_anonymous_visitor_is_sent_to_the_login_page_everywhere(objects: Objects) -> None:
    client = Client()
    login = reverse("admin:login")
    urls = (
        readable_pages(objects)
        + operator_write_pages(objects)
        + nobody_writes(objects)
        + custom_recipient_views(objects)
    )
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(login), url
        response = client.post(url, {"post": "yes"})
        assert response.status_code == 302, url
    assert Campaign.objects.filter(pk=objects.campaign.pk).exists()


def test_operator_deletes_a_campaign_by_the_delete_action(
    operator_client: Client, objects: Objects
) -> None:
    response = operator_client.post(
        admin_url("campaign", "changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [objects.campaign.pk],
            "post": "yes",
            "index": 0,
        },
    )
    assert response.status_code == 302
    assert not Campaign.objects.filter(pk=objects.campaign.pk).exists()
    assert not Recipient.objects.exists()
    assert not BatchRun.objects.exists()
