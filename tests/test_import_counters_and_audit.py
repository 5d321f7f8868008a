"""An import moves the campaign's pending counter and leaves one audit row saying what happened."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory

from campaigns import stats
from campaigns.importing import import_recipients
from campaigns.models import AuditLog, Campaign
from tests.factories import add_recipients

pytestmark = pytest.mark.django_db

FILE = b"nomor,nama\n081234567890,A\n081234567890,B\n0812,C\n+6281200000000,D\n081298765432,E\n"


def test_the_pending_counter_grows_by_the_rows_created(campaign: Campaign) -> None:
    add_recipients(campaign, 1)  # +6281200000000

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(FILE), filename="x.csv")

    campaign.refresh_from_db()
    assert result.created == 2
    assert campaign.pending_count == 3
    assert stats.recount(campaign.pk)["pending"] == 3


def test_one_audit_row_names_actor_file_counts_and_address(campaign: Campaign) -> None:
    add_recipients(campaign, 1)
    user = User.objects.create_user("importer")
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.7")

    import_recipients(
        campaign=campaign, fileobj=io.BytesIO(FILE), filename="x.csv", actor=user, request=request
    )

    entry = AuditLog.objects.get(action="recipients.import")
    assert (entry.actor_username, entry.object_type, entry.object_id) == (
        "importer",
        "campaigns.campaign",
        str(campaign.pk),
    )
    assert entry.ip_address == "203.0.113.7"
    assert entry.details == {
        "filename": "x.csv",
        "rows": 5,
        "created": 2,
        "duplicates_in_file": 1,
        "duplicates_existing": 1,
        "rejected": 3,
        "invalid": 1,
    }


def test_an_import_without_an_actor_is_recorded_as_the_system(campaign: Campaign) -> None:
    import_recipients(campaign=campaign, fileobj=io.BytesIO(FILE), filename="x.csv", via="script")

    entry = AuditLog.objects.get(action="recipients.import")
    assert entry.actor_username == ""
    assert entry.actor_id is None
    assert entry.details["via"] == "script"
