"""Campaigns, runs and the checks every end-to-end test makes against the sandbox's records."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from django.db import transaction

from campaigns import stats
from campaigns.models import BatchRun, Campaign, Recipient
from campaigns.sending.runs import start_run
from tests.e2e.processes import Sandbox, wait_for
from tests.factories import add_recipients, make_campaign

FINAL_STATUSES = {Recipient.Status.SENT, Recipient.Status.FAILED, Recipient.Status.IN_DOUBT}


def campaign_with(count: int, *, first_number: int = 0) -> Campaign:
    """A campaign of ``count`` pending recipients numbered from ``first_number``."""
    campaign = make_campaign(name=f"E2E {first_number}")
    add_recipients(campaign, count, start=first_number)
    return campaign


def start_queued_run(
    campaign: Campaign, *, batch_size: int, delay_seconds: int = 1, max_retries: int = 3
) -> BatchRun:
    """Start a run as the admin does: inside a transaction, its driver queued on commit."""
    with transaction.atomic():
        run = start_run(
            campaign_id=campaign.pk,
            actor=None,
            batch_size=batch_size,
            delay_seconds=delay_seconds,
            max_retries=max_retries,
            via="e2e",
            enqueue=True,
        )
    return run


def run_status(run_id: int) -> str:
    return str(BatchRun.objects.values_list("status", flat=True).get(pk=run_id))


def wait_until_finished(run_id: int, *, timeout: float) -> BatchRun:
    wait_for(
        f"batch run {run_id} to finish",
        lambda: run_status(run_id) not in BatchRun.ACTIVE_STATUSES,
        timeout=timeout,
        interval=0.1,
    )
    return BatchRun.objects.get(pk=run_id)


@dataclass(frozen=True)
class Ground:
    """What the sandbox accepted for one campaign's recipients, next to their rows."""

    statuses: dict[str, str]  # phone → status
    accepted: dict[str, int]  # phone → times accepted (campaign's phones only)

    @property
    def by_status(self) -> Counter[str]:
        return Counter(self.statuses.values())


def ground_truth(sandbox: Sandbox, campaign: Campaign) -> Ground:
    statuses = dict(
        Recipient.objects.filter(campaign=campaign).values_list("phone_number", "status")
    )
    counts = sandbox.accepted_counts()
    return Ground(
        statuses=statuses,
        accepted={phone: counts[phone] for phone in statuses if phone in counts},
    )


def assert_sent_exactly_once(sandbox: Sandbox, campaign: Campaign) -> Ground:
    """No recipient accepted twice, every ``sent`` row accepted once, every row final."""
    ground = ground_truth(sandbox, campaign)
    twice = {phone: n for phone, n in ground.accepted.items() if n > 1}
    assert twice == {}, f"accepted more than once: {twice}"
    not_final = {p: s for p, s in ground.statuses.items() if s not in FINAL_STATUSES}
    assert not_final == {}, f"rows left unfinished: {not_final}"
    sent = {p for p, s in ground.statuses.items() if s == Recipient.Status.SENT}
    assert sent == {p for p in sent if ground.accepted.get(p) == 1}
    # Whatever the sandbox accepted is recorded as sent, or in doubt when the answer was lost.
    accepted_rows = {ground.statuses[p] for p in ground.accepted}
    assert accepted_rows <= {Recipient.Status.SENT, Recipient.Status.IN_DOUBT}
    assert_counters_match_rows(campaign)
    return ground


def assert_counters_match_rows(campaign: Campaign) -> None:
    campaign.refresh_from_db()
    kept = {status: getattr(campaign, field) for status, field in stats.COUNTER_FIELDS.items()}
    assert kept == stats.recount(campaign.pk)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def seconds(self) -> float:
        return time.monotonic() - self.started
