"""The Export CSV download: a streamed attachment, audited, for those allowed to export."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.exporting import EXPORT_HEADER
from campaigns.models import AuditLog, Campaign
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db


def export_url(campaign_id: object) -> str:
    return reverse("admin:campaigns_campaign_export", args=[campaign_id])


def test_the_download_is_a_named_csv_attachment_with_every_recipient(
    operator_client: Client, campaign: Campaign
) -> None:
    add_recipients(campaign, 3)

    response = operator_client.get(export_url(campaign.pk))

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    filename = f"recipients-{campaign.pk}-{timezone.localdate().isoformat()}.csv"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == EXPORT_HEADER
    assert [row[1] for row in rows[1:]] == ["+6281200000000", "+6281200000001", "+6281200000002"]


def test_the_export_is_audited_before_the_first_byte_is_streamed(
    operator_client: Client, operator: User, campaign: Campaign
) -> None:
    add_recipients(campaign, 2)

    response = operator_client.get(export_url(campaign.pk), REMOTE_ADDR="192.0.2.9")

    entry = AuditLog.objects.get(action="recipients.export")  # content not consumed yet
    assert (entry.actor_username, entry.object_id, entry.ip_address) == (
        operator.username,
        str(campaign.pk),
        "192.0.2.9",
    )
    filename = f"recipients-{campaign.pk}-{timezone.localdate().isoformat()}.csv"
    assert entry.details == {"filename": filename, "rows": 2}
    assert isinstance(response, StreamingHttpResponse)


def test_an_auditor_without_the_export_permission_gets_403(
    auditor_client: Client, campaign: Campaign
) -> None:
    response = auditor_client.get(export_url(campaign.pk))

    assert response.status_code == 403
    assert not AuditLog.objects.filter(action="recipients.export").exists()


def test_an_unknown_campaign_redirects_to_the_list_with_a_message(
    operator_client: Client, db: None
) -> None:
    response = operator_client.get(export_url(424242))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_campaign_changelist")
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Campaign not found"]
