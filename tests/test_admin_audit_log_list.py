"""The audit log's list stays narrow: long object names are shortened (in full as the
tooltip), an id is not repeated, and the footer counts "audit log entries"."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from campaigns import audit
from campaigns.models import BatchRun, Campaign
from tests.batch_admin_helpers import make_run
from tests.factories import make_campaign

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:campaigns_auditlog_changelist")
LONG_NAME = "Undangan Seminar Nasional Transformasi Digital UMKM Jawa Barat 2026"


def object_cell(page: str) -> str:
    start = page.index('<td class="field-object">')
    return page[start : page.index("</td>", start)]


def test_a_long_object_name_is_shortened_with_the_full_name_as_tooltip(
    auditor_client: Client,
) -> None:
    campaign = make_campaign(name=LONG_NAME)
    audit.record(action="campaign.create", obj=campaign)

    cell = object_cell(auditor_client.get(CHANGELIST).content.decode())

    assert f'title="{LONG_NAME} (#{campaign.pk})"' in cell
    shown = cell[cell.index(">", cell.index("title=")) + 1 : cell.index("</span>")]
    assert len(shown) <= 40 and shown.endswith("…")


def test_a_short_object_name_is_shown_as_it_is_with_its_id(
    auditor_client: Client, campaign: Campaign
) -> None:
    audit.record(action="campaign.create", obj=campaign)

    cell = object_cell(auditor_client.get(CHANGELIST).content.decode())

    assert cell == f'<td class="field-object">{campaign.name} (#{campaign.pk})'


def test_a_run_is_not_numbered_twice(auditor_client: Client, campaign: Campaign) -> None:
    run = make_run(campaign, status=BatchRun.Status.COMPLETED)
    audit.record(action="batch.start", obj=run)

    cell = object_cell(auditor_client.get(CHANGELIST).content.decode())

    assert f"Run #{run.pk} of" in cell
    assert f"(#{run.pk})" not in cell


def test_the_footer_counts_audit_log_entries(auditor_client: Client, campaign: Campaign) -> None:
    for action in ("campaign.create", "campaign.change", "campaign.change"):
        audit.record(action=action, obj=campaign)

    page = auditor_client.get(CHANGELIST).content.decode()

    assert "3 audit log entries" in page
    assert "3 audit log\n" not in page
