"""An import either writes everything (rows, counters, audit) or nothing."""

from __future__ import annotations

import io

import pytest
from django.db import connection

from campaigns import importing
from campaigns.importing import CampaignClosedError, ImportFileError, import_recipients
from campaigns.models import AuditLog, Campaign, Recipient
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db

FILE = b"nomor,nama\n081234567890,Budi\n081298765432,Siti\n"


def test_an_unexpected_error_after_the_insert_leaves_nothing_behind(
    campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_audit(**kwargs: object) -> None:
        raise RuntimeError("audit storage exploded")

    monkeypatch.setattr(importing.audit, "record", broken_audit)

    with pytest.raises(RuntimeError):
        import_recipients(campaign=campaign, fileobj=io.BytesIO(FILE), filename="x.csv")

    assert not Recipient.objects.exists()
    campaign.refresh_from_db()
    assert campaign.pending_count == 0


def test_a_number_inserted_concurrently_aborts_the_whole_import(
    campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer added +6281298765432 after our lookup: the lookup saw nothing.
    (concurrent,) = add_recipients(campaign, 1, start=0)
    concurrent_phone = concurrent.phone_number
    monkeypatch.setattr(importing, "_existing_numbers", lambda campaign_id, phones: set())
    data = f"nomor\n081234567890\n{concurrent_phone}\n".encode()

    with pytest.raises(ImportFileError, match="changed during the import"):
        import_recipients(campaign=campaign, fileobj=io.BytesIO(data), filename="x.csv")

    assert list(Recipient.objects.values_list("phone_number", flat=True)) == [concurrent_phone]
    assert not AuditLog.objects.filter(action="recipients.import").exists()
    campaign.refresh_from_db()
    assert campaign.pending_count == 1


def test_a_cancelled_campaign_refuses_imports() -> None:
    cancelled = make_campaign(status=Campaign.Status.CANCELLED)

    with pytest.raises(CampaignClosedError, match="cancelled"):
        import_recipients(campaign=cancelled, fileobj=io.BytesIO(FILE), filename="x.csv")

    assert not Recipient.objects.exists()


def test_a_campaign_cancelled_while_the_file_was_read_refuses_too(campaign: Campaign) -> None:
    parsed = importing.parse_recipient_file(data=FILE, filename="x.csv")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)

    with pytest.raises(CampaignClosedError):
        importing.save_recipients(campaign=campaign, parsed=parsed)

    assert not Recipient.objects.exists()


@pytest.mark.parametrize(
    "status", [Campaign.Status.SENDING, Campaign.Status.COMPLETED, Campaign.Status.FAILED]
)
def test_campaigns_that_are_not_cancelled_accept_more_recipients(status: str) -> None:
    campaign = make_campaign(status=status)

    result = import_recipients(campaign=campaign, fileobj=io.BytesIO(FILE), filename="x.csv")

    assert result.created == 2


@pytest.mark.parametrize(
    "use_copy",
    [
        pytest.param(
            True,
            marks=pytest.mark.skipif(
                connection.vendor != "postgresql", reason="COPY is PostgreSQL's"
            ),
        ),
        False,
    ],
)
def test_copy_and_bulk_create_write_identical_rows(campaign: Campaign, use_copy: bool) -> None:
    parsed = importing.parse_recipient_file(
        data=b"nomor,nama,kota\n081234567890,Budi,Solo\n", filename="x.csv"
    )

    importing.insert_recipients(
        campaign_id=campaign.pk, recipients=parsed.recipients, use_copy=use_copy
    )

    recipient = Recipient.objects.get(campaign=campaign)
    fresh = Recipient(campaign=campaign)
    for field in Recipient._meta.concrete_fields:
        if field.name in {"id", "phone_number", "name", "variables", "created_at", "updated_at"}:
            continue
        assert getattr(recipient, field.attname) == getattr(fresh, field.attname), field.name
    assert (recipient.phone_number, recipient.name, recipient.variables) == (
        "+6281234567890",
        "Budi",
        {"kota": "Solo"},
    )
    assert recipient.created_at is not None and recipient.updated_at is not None
