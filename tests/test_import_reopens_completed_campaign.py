"""New recipients imported into a completed campaign make it sendable again."""

from __future__ import annotations

import io

import pytest

from campaigns.importing import import_recipients
from campaigns.models import Campaign
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db


def csv_file(*phones: str) -> io.BytesIO:
    return io.BytesIO(("phone,name\n" + "".join(f"{p},Budi\n" for p in phones)).encode())


def test_importing_new_numbers_puts_a_completed_campaign_back_to_sending() -> None:
    campaign = make_campaign(status=Campaign.Status.COMPLETED)
    add_recipients(campaign, 2, status="sent")

    import_recipients(campaign=campaign, fileobj=csv_file("081299990001"), filename="more.csv")

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.completed_at is None
    assert campaign.pending_count == 1


def test_importing_only_known_numbers_leaves_a_completed_campaign_completed() -> None:
    campaign = make_campaign(status=Campaign.Status.COMPLETED)
    add_recipients(campaign, 1, status="sent")

    import_recipients(campaign=campaign, fileobj=csv_file("+6281200000000"), filename="same.csv")

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
