"""The delivery funnel of a campaign — accepted, delivered, read, failed — from its counters."""

from __future__ import annotations

from dataclasses import dataclass

from campaigns.models import Campaign


@dataclass(frozen=True)
class Funnel:
    """Counts and shares of the messages WhatsApp answered for (accepted or failed).

    ``accepted`` counts every message WhatsApp still holds as sent, delivered or read;
    ``delivered`` includes the read ones (a read message was delivered). Percentages are of
    ``attempted`` (accepted + failed), so the stages narrow like a funnel.
    """

    attempted: int
    accepted: int
    delivered: int
    read: int
    failed: int

    @staticmethod
    def _percent(part: int, whole: int) -> float:
        return round(100.0 * part / whole, 1) if whole else 0.0

    @property
    def accepted_percent(self) -> float:
        return self._percent(self.accepted, self.attempted)

    @property
    def delivered_percent(self) -> float:
        return self._percent(self.delivered, self.attempted)

    @property
    def read_percent(self) -> float:
        return self._percent(self.read, self.attempted)

    @property
    def failed_percent(self) -> float:
        return self._percent(self.failed, self.attempted)


def delivery_funnel(campaign: Campaign) -> Funnel:
    """The funnel of ``campaign`` as its counters stand (no recipient rows are read)."""
    accepted = campaign.sent_count + campaign.delivered_count + campaign.read_count
    return Funnel(
        attempted=accepted + campaign.failed_count,
        accepted=accepted,
        delivered=campaign.delivered_count + campaign.read_count,
        read=campaign.read_count,
        failed=campaign.failed_count,
    )
