"""Concurrency: one driver per run, and one shared send budget per sender number."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from campaigns.models import BatchRun, Campaign, SenderThrottle
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def start(campaign: Campaign, *, batch_size: int) -> BatchRun:
    return start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=batch_size,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same instant; each closes its DB connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_drivers_on_the_same_run_never_send_twice(sandbox, whatsapp) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 6)
    run = start(campaign, batch_size=3)

    results = run_together(
        lambda: drive(run_id=run.pk, client=whatsapp, owner="worker-a:1:a"),
        lambda: drive(run_id=run.pk, client=whatsapp, owner="worker-b:2:b"),
    )

    assert sorted(results) == sorted([DriveResult.FINISHED, DriveResult.NOT_OWNER])
    counts = sandbox.state.accepted_counts()
    assert (counts["total"], counts["recipients"], counts["duplicates"]) == (6, 6, {})
    run.refresh_from_db()
    assert (run.status, run.sent_count, run.batches_done) == ("completed", 6, 2)


def test_runs_sharing_a_sender_stay_under_its_throughput_together(
    sandbox, whatsapp, settings
) -> None:
    settings.WHATSAPP_THROUGHPUT_PER_SECOND = 20
    runs = []
    for index in range(2):
        campaign = make_campaign(name=f"Campaign {index}")
        add_recipients(campaign, 20, start=100 * index)
        runs.append(start(campaign, batch_size=20))

    results = run_together(*[lambda run=run: drive(run_id=run.pk, client=whatsapp) for run in runs])

    assert results == [DriveResult.FINISHED, DriveResult.FINISHED]
    times = sorted(message["accepted_at"] for message in sandbox.state.accepted())
    assert len(times) == 40
    # Without a shared budget both runs would send their 20 in the same second (40). Sends
    # leave at their slot or a few ms late, so a second may catch an extra one or two.
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 22, f"{busiest} messages in one second"
    assert times[-1] - times[0] >= 39 / 20 * 0.9
    assert SenderThrottle.objects.filter(phone_number_id=whatsapp.phone_number_id).exists()
