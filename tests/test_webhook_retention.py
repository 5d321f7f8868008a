"""Raw payloads are kept WEBHOOK_RETENTION_DAYS days, then the scheduled housekeeping purges."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from campaigns.models import UnmatchedStatus, WebhookEvent
from campaigns.tasks import webhook_housekeeping
from campaigns.webhooks import purge_old_events
from tests.test_settings import load_settings
from tests.webhook_payloads import payload, post_signed, status

pytestmark = pytest.mark.django_db


def event_aged(days: float) -> WebhookEvent:
    return WebhookEvent.objects.create(
        body=b"{}", received_at=timezone.now() - timedelta(days=days), result="processed"
    )


def test_payloads_older_than_the_retention_are_purged_and_newer_ones_kept(settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_RETENTION_DAYS = 7
    old, recent = event_aged(8), event_aged(6)

    assert purge_old_events() == 1

    assert list(WebhookEvent.objects.all()) == [recent]
    assert not WebhookEvent.objects.filter(pk=old.pk).exists()


def test_an_unmatched_status_outlives_its_purged_payload() -> None:
    post_signed(Client(), payload([status("wamid.KEEP", "read")]))
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(days=400))

    assert webhook_housekeeping()["purged"] == 1

    kept = UnmatchedStatus.objects.get()
    assert (kept.wamid, kept.event_id) == ("wamid.KEEP", None)


def test_purging_goes_in_chunks_until_nothing_old_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("campaigns.webhooks.PURGE_CHUNK", 2)
    for _ in range(5):
        event_aged(100)

    assert purge_old_events(days=30) == 5
    assert not WebhookEvent.objects.exists()


def test_the_housekeeping_is_scheduled() -> None:
    schedule = Schedule.objects.get(func="campaigns.tasks.webhook_housekeeping")

    assert schedule.repeats == -1 and schedule.schedule_type == Schedule.MINUTES


@pytest.mark.parametrize("value", ["0", "-1", "forever"])
def test_a_bad_retention_refuses_to_start(value: str) -> None:
    result = load_settings(DEBUG="1", WEBHOOK_RETENTION_DAYS=value)

    assert result.returncode != 0
    assert "WEBHOOK_RETENTION_DAYS" in result.stderr
