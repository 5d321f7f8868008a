"""The campaign's Import recipients page: upload, result table, errors and permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from campaigns.models import AuditLog, Campaign, Recipient
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db


def import_url(campaign_id: object) -> str:
    return reverse("admin:campaigns_campaign_import", args=[campaign_id])


def upload(content: bytes, name: str = "peserta.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_the_page_shows_an_upload_form_in_the_admin_look(
    operator_client: Client, campaign: Campaign
) -> None:
    response = operator_client.get(import_url(campaign.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file"' in page
    breadcrumbs = page[page.index('class="breadcrumbs"') :]
    breadcrumbs = breadcrumbs[: breadcrumbs.index("</div>")]
    for crumb in ("Home", "Campaigns", campaign.name, "Import recipients"):
        assert crumb in breadcrumbs
    assert reverse("admin:campaigns_campaign_change", args=[campaign.pk]) in breadcrumbs


def test_uploading_a_file_imports_it_and_lists_every_row_not_imported(
    operator_client: Client, operator: User, campaign: Campaign
) -> None:
    add_recipients(campaign, 1)  # +6281200000000
    content = b"nama,nomor\nA,081234567890\nB,0812-3456-7890\nC,0812\nD,081200000000\n"

    response = operator_client.post(
        import_url(campaign.pk), {"file": upload(content)}, REMOTE_ADDR="198.51.100.4"
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="result-created">1<' in page
    assert 'id="result-duplicates-in-file">1<' in page
    assert 'id="result-duplicates-existing">1<' in page
    assert 'id="result-invalid">1<' in page
    for cells in (
        "<td>3</td><td>0812-3456-7890</td><td>duplicate of row 2</td>",
        "<td>4</td><td>0812</td><td>not a valid phone number (too short)</td>",
        "<td>5</td><td>081200000000</td><td>already in this campaign</td>",
    ):
        assert cells in page
    assert Recipient.objects.filter(campaign=campaign).count() == 2
    entry = AuditLog.objects.get(action="recipients.import")
    assert (entry.actor_username, entry.ip_address, entry.details["via"]) == (
        operator.username,
        "198.51.100.4",
        "admin",
    )


def test_submitting_without_a_file_is_a_form_error(
    operator_client: Client, campaign: Campaign
) -> None:
    response = operator_client.post(import_url(campaign.pk), {})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not AuditLog.objects.filter(action="recipients.import").exists()


def test_a_bad_file_is_shown_as_a_form_error_and_writes_nothing(
    operator_client: Client, campaign: Campaign
) -> None:
    response = operator_client.post(
        import_url(campaign.pk), {"file": upload(b"nama,kota\nBudi,Solo\n")}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "errorlist" in page
    assert "No phone column" in page
    assert "Headers found: “nama”, “kota”." in page
    assert not Recipient.objects.exists()


def test_an_empty_upload_gets_the_importers_message(
    operator_client: Client, campaign: Campaign
) -> None:
    response = operator_client.post(import_url(campaign.pk), {"file": upload(b"")})

    assert "The file is empty." in response.content.decode()


def test_a_cancelled_campaign_shows_why_it_refuses(
    operator_client: Client, campaign: Campaign
) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)

    response = operator_client.post(
        import_url(campaign.pk), {"file": upload(b"nomor\n081234567890\n")}
    )

    assert response.status_code == 200
    assert "is cancelled; recipients cannot be imported" in response.content.decode()
    assert not Recipient.objects.exists()


def test_an_auditor_gets_403_on_the_page_and_on_a_direct_post(
    auditor_client: Client, campaign: Campaign
) -> None:
    assert auditor_client.get(import_url(campaign.pk)).status_code == 403
    response = auditor_client.post(
        import_url(campaign.pk), {"file": upload(b"nomor\n081234567890\n")}
    )
    assert response.status_code == 403
    assert not Recipient.objects.exists()


def test_staff_without_the_import_permission_get_403(campaign: Campaign) -> None:
    user = User.objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_campaign"))
    client = Client()
    client.force_login(user)

    assert client.get(import_url(campaign.pk)).status_code == 403


@pytest.mark.parametrize("object_id", ["999999", "not-a-number"])
def test_an_unknown_campaign_redirects_to_the_list_with_a_message(
    operator_client: Client, object_id: str
) -> None:
    response = operator_client.get(import_url(object_id))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_campaign_changelist")
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Campaign not found"]
