"""Small builders for test data; they go through the same functions the app uses."""

from __future__ import annotations

from typing import Any

from campaigns import stats
from campaigns.models import Campaign, Recipient


def make_campaign(**fields: Any) -> Campaign:
    defaults: dict[str, Any] = {
        "name": "Undangan Seminar",
        "template_name": "event_reminder",
        "template_language": "id",
        "template_parameters": [
            {"name": "participant_name", "value": "Peserta"},
            {"name": "location", "value": "Jakarta"},
        ],
    }
    defaults.update(fields)
    return Campaign.objects.create(**defaults)


def add_recipients(
    campaign: Campaign, count: int, *, status: str = Recipient.Status.PENDING, start: int = 0
) -> list[Recipient]:
    """Create ``count`` recipients with distinct Indonesian mobile numbers; keep counters right."""
    rows = [
        Recipient(
            campaign=campaign,
            phone_number=f"+62812{start + i:08d}",
            name=f"Peserta {start + i}",
            status=status,
        )
        for i in range(count)
    ]
    created = Recipient.objects.bulk_create(rows)
    stats.shift(campaign.pk, {status: len(created)})
    campaign.refresh_from_db()
    return created
