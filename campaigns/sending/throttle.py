"""A send budget per WhatsApp phone-number id, shared by every run in every worker.

The budget lives in one database row per sender: a batch reserves ``n`` consecutive slots
with one short locked UPDATE, then spaces its sends inside them. Any number of processes on
any number of machines that share the database therefore stay under the cap together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from campaigns.models import SenderThrottle

# Slots are spaced for 95 % of the configured cap: one send that leaves a few milliseconds
# late must not put cap + 1 messages into WhatsApp's one-second window (an avoidable 130429).
HEADROOM = 0.95


@dataclass(frozen=True)
class SlotWindow:
    start: datetime
    interval_seconds: float

    def slot(self, index: int) -> datetime:
        return self.start + timedelta(seconds=index * self.interval_seconds)


def reserve_slots(*, phone_number_id: str, count: int, per_second: float) -> SlotWindow:
    """Reserve ``count`` send slots for the sender; returns when each may go out.

    ``per_second`` is the sender's cap; slots are spaced with :data:`HEADROOM` below it.
    """
    interval = 1.0 / (per_second * HEADROOM)
    now = timezone.now()
    with transaction.atomic():
        SenderThrottle.objects.get_or_create(
            phone_number_id=phone_number_id, defaults={"next_free_at": now}
        )
        throttle = SenderThrottle.objects.select_for_update().get(phone_number_id=phone_number_id)
        start = max(throttle.next_free_at, now)
        throttle.next_free_at = start + timedelta(seconds=count * interval)
        throttle.save(update_fields=["next_free_at"])
    return SlotWindow(start=start, interval_seconds=interval)
