"""The Manual Batch Processing form, its preview figures and the guide's recommendations.

The config page shows the preview computed here; ``static/campaigns/batch.js`` repeats the
same arithmetic in the browser as the numbers change (keep the two in step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django import forms
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import (
    BATCH_SIZE_DEFAULT,
    BATCH_SIZE_MAX,
    BATCH_SIZE_MIN,
    DELAY_SECONDS_DEFAULT,
    DELAY_SECONDS_MAX,
    DELAY_SECONDS_MIN,
    MAX_RETRIES_DEFAULT,
    MAX_RETRIES_MAX,
    MAX_RETRIES_MIN,
    BatchRun,
    Campaign,
)

# Time to send one batch when the campaign has no run to learn it from: the messages of a
# batch go out concurrently, so a batch takes about one Cloud API round trip.
ASSUMED_BATCH_SECONDS = 1.0
SECONDS_PER_MINUTE = 60


def _interpolate(text: str | Promise, values: dict[str, object]) -> str:
    return str(text) % values


# ``gettext_lazy(...) % values`` would translate once, at import; this waits for the request.
interpolate_lazy = lazy(_interpolate, str)


class BatchConfigForm(forms.Form):
    batch_size = forms.IntegerField(
        label=gettext_lazy("Batch size"),
        min_value=BATCH_SIZE_MIN,
        max_value=BATCH_SIZE_MAX,
        initial=BATCH_SIZE_DEFAULT,
        help_text=interpolate_lazy(
            gettext_lazy("Messages sent at once, %(min)s–%(max)s."),
            {"min": BATCH_SIZE_MIN, "max": BATCH_SIZE_MAX},
        ),
    )
    delay_seconds = forms.IntegerField(
        label=gettext_lazy("Delay between batches (seconds)"),
        min_value=DELAY_SECONDS_MIN,
        max_value=DELAY_SECONDS_MAX,
        initial=DELAY_SECONDS_DEFAULT,
        help_text=interpolate_lazy(
            gettext_lazy("Pause after each batch, %(min)s–%(max)s s."),
            {"min": DELAY_SECONDS_MIN, "max": DELAY_SECONDS_MAX},
        ),
    )
    max_retries = forms.IntegerField(
        label=gettext_lazy("Max retries"),
        min_value=MAX_RETRIES_MIN,
        max_value=MAX_RETRIES_MAX,
        initial=MAX_RETRIES_DEFAULT,
        help_text=interpolate_lazy(
            gettext_lazy(
                "Further attempts for a message that fails temporarily, %(min)s–%(max)s "
                "(3 means at most 4 attempts)."
            ),
            {"min": MAX_RETRIES_MIN, "max": MAX_RETRIES_MAX},
        ),
    )

    def config(self) -> dict[str, int] | None:
        """The chosen configuration, or None while the form is unbound or invalid."""
        if not self.is_bound or not self.is_valid():
            return None
        return {name: self.cleaned_data[name] for name in self.fields}


def default_config() -> dict[str, int]:
    return {
        "batch_size": BATCH_SIZE_DEFAULT,
        "delay_seconds": DELAY_SECONDS_DEFAULT,
        "max_retries": MAX_RETRIES_DEFAULT,
    }


@dataclass(frozen=True)
class BatchPreview:
    batches: int
    duration_seconds: int
    messages_per_minute: int


def round_half_up(value: float) -> int:
    """Rounding as JavaScript's Math.round does, so server and browser show the same."""
    return math.floor(value + 0.5)


def preview(
    *, pending: int, batch_size: int, delay_seconds: int, batch_seconds: float
) -> BatchPreview:
    """Batches, estimated wall time and sending pace of a run over ``pending`` recipients.

    Wall time is (batches − 1) × delay + batches × batch time (no pause after the last
    batch); the pace is one batch per (batch time + delay). Retries are not foreseeable and
    not counted.
    """
    batches = math.ceil(pending / batch_size) if pending > 0 else 0
    duration = batches * batch_seconds + max(batches - 1, 0) * delay_seconds
    pace = batch_size * SECONDS_PER_MINUTE / (delay_seconds + batch_seconds)
    return BatchPreview(
        batches=batches,
        duration_seconds=round_half_up(duration),
        messages_per_minute=round_half_up(pace),
    )


def estimated_batch_seconds(campaign: Campaign) -> tuple[float, bool]:
    """Seconds one batch takes: measured on the campaign's latest run, else assumed.

    Returns the figure and whether it was measured.
    """
    measured = (
        BatchRun.objects.filter(campaign=campaign, avg_batch_seconds__isnull=False)
        .order_by("-id")
        .values_list("avg_batch_seconds", flat=True)
        .first()
    )
    if measured is None:
        return ASSUMED_BATCH_SECONDS, False
    return round(max(measured, 0.1), 1), True


def format_hms(seconds: float | None) -> str:
    """``h:mm:ss`` (hours unbounded), the same as the config page's script; "—" when unknown."""
    if seconds is None:
        return "—"
    total = max(round_half_up(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


# --- The operator guide's recommendations ----------------------------------------------------
SMALL_CAMPAIGN_BELOW = 100
LARGE_CAMPAIGN_ABOVE = 500


@dataclass(frozen=True)
class SizeRecommendation:
    label: str
    batch_min: int
    batch_max: int
    applies: bool


def size_recommendations(*, recipients: int) -> list[SizeRecommendation]:
    """The guide's batch sizes per campaign size; ``applies`` marks this campaign's row."""
    small = recipients < SMALL_CAMPAIGN_BELOW
    large = recipients > LARGE_CAMPAIGN_ABOVE
    return [
        SizeRecommendation(
            label=_("under %(n)s recipients") % {"n": SMALL_CAMPAIGN_BELOW},
            batch_min=5,
            batch_max=10,
            applies=small,
        ),
        SizeRecommendation(
            label=_("%(low)s–%(high)s recipients")
            % {"low": SMALL_CAMPAIGN_BELOW, "high": LARGE_CAMPAIGN_ABOVE},
            batch_min=10,
            batch_max=20,
            applies=not small and not large,
        ),
        SizeRecommendation(
            label=_("over %(n)s recipients") % {"n": LARGE_CAMPAIGN_ABOVE},
            batch_min=20,
            batch_max=50,
            applies=large,
        ),
    ]


def recommended_batch_range(*, recipients: int) -> tuple[int, int]:
    row = next(r for r in size_recommendations(recipients=recipients) if r.applies)
    return row.batch_min, row.batch_max
