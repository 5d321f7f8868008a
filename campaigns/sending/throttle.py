"""A send budget per WhatsApp phone-number id, shared by every run in every worker.

WhatsApp counts messages per second per sender: at most *cap* in any one-second window.
The budget lives in one database row per sender holding the send times reserved in the
last second (and any reserved ahead). A batch reserves its slots with one short locked
UPDATE: each message gets the earliest time at which the window ending there still has
room. So a batch goes out at once when the last second was quiet, and a busy sender is
paced at the cap — across any number of processes and machines sharing the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from campaigns.models import SenderThrottle

# Slots are planned for 95 % of the configured cap: one send that leaves a few milliseconds
# late must not put cap + 1 messages into WhatsApp's one-second window (an avoidable 130429).
HEADROOM = 0.95
WINDOW_SECONDS = 1.0
# Messages leave a little after their slot (threads waking, connections opening), and a
# burst that leaves late would crowd the next window: slots are planned as if WhatsApp's
# window were this much longer.
LATENESS_ALLOWANCE_SECONDS = 0.25
PLANNING_WINDOW_SECONDS = WINDOW_SECONDS + LATENESS_ALLOWANCE_SECONDS


@dataclass(frozen=True)
class SlotPlan:
    times: tuple[float, ...]  # Unix seconds

    def slot(self, index: int) -> datetime:
        return datetime.fromtimestamp(self.times[index], tz=UTC)


def plan_slots(*, reserved: list[float], count: int, capacity: int, now: float) -> list[float]:
    """Times for ``count`` more sends so that no planning window holds more than ``capacity``.

    ``reserved`` are earlier reservations (sorted); new slots come after all of them, each at
    the earliest time when the ``capacity``-th latest send has left the window.
    """
    timeline = [t for t in reserved if t > now - PLANNING_WINDOW_SECONDS]
    planned: list[float] = []
    for _ in range(count):
        earliest = max(now, timeline[-1]) if timeline else now
        if len(timeline) >= capacity:
            earliest = max(earliest, timeline[-capacity] + PLANNING_WINDOW_SECONDS)
        timeline.append(earliest)
        planned.append(earliest)
    return planned


def reserve_slots(*, phone_number_id: str, count: int, per_second: float) -> SlotPlan:
    """Reserve ``count`` send slots for the sender (cap ``per_second``); says when each may go."""
    capacity = max(1, int(per_second * HEADROOM))
    with transaction.atomic():
        SenderThrottle.objects.get_or_create(phone_number_id=phone_number_id)
        throttle = SenderThrottle.objects.select_for_update().get(phone_number_id=phone_number_id)
        now = time.time()
        planned = plan_slots(
            reserved=sorted(throttle.recent_sends), count=count, capacity=capacity, now=now
        )
        kept = [t for t in throttle.recent_sends if t > now - PLANNING_WINDOW_SECONDS]
        throttle.recent_sends = [round(t, 4) for t in kept + planned]
        throttle.save(update_fields=["recent_sends"])
    return SlotPlan(times=tuple(planned))
