"""A stop requested while the cluster drives a run takes effect within one second."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from campaigns.models import BatchRun, Recipient
from campaigns.sending.runs import request_stop
from tests.e2e.processes import Processes, Sandbox, wait_for
from tests.e2e.scenario import (
    Stopwatch,
    assert_counters_match_rows,
    campaign_with,
    run_status,
    start_queued_run,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="end-to-end tests run on PostgreSQL"),
]

STOP_WITHIN_SECONDS = 1.0
SANDBOX_LATENCY_MS = 200


def stop_and_time(run_id: int) -> float:
    clock = Stopwatch()
    request_stop(run_id=run_id, actor=None, via="e2e")
    wait_for(
        "the run to be stopped",
        lambda: run_status(run_id) == BatchRun.Status.STOPPED,
        timeout=10,
        interval=0.01,
    )
    return clock.seconds()


def assert_nothing_sent_after_the_stop(sandbox: Sandbox, run: BatchRun) -> None:
    accepted = sum(sandbox.accepted_counts().values())
    time.sleep(1.5)  # longer than the delay between batches: a next batch would show
    assert sum(sandbox.accepted_counts().values()) == accepted
    run.refresh_from_db()
    assert run.sent_count == accepted
    rows = Recipient.objects.filter(campaign_id=run.campaign_id)
    assert not rows.filter(status=Recipient.Status.SENDING).exists()
    assert rows.filter(status=Recipient.Status.PENDING).exists()
    assert set(sandbox.accepted_counts().values()) == {1}
    assert_counters_match_rows(run.campaign)


def test_a_stop_during_the_pause_between_batches_ends_the_run_within_a_second(
    processes: Processes,
) -> None:
    sandbox = processes.sandbox(latency_ms=SANDBOX_LATENCY_MS)
    processes.cluster(workers=2)
    run = start_queued_run(campaign_with(200), batch_size=10, delay_seconds=1)
    wait_for(
        "two batches and the pause after them",
        lambda: (
            BatchRun.objects.get(pk=run.pk).batches_done >= 2
            and not Recipient.objects.filter(batch_run_id=run.pk, status="sending").exists()
        ),
        timeout=30,
        interval=0.01,
    )

    took = stop_and_time(run.pk)
    print(f"stop during a pause: stopped after {took * 1000:.0f} ms")

    assert took < STOP_WITHIN_SECONDS
    assert_nothing_sent_after_the_stop(sandbox, run)


def test_a_stop_during_a_batch_lets_in_flight_messages_finish_and_records_them(
    processes: Processes,
) -> None:
    sandbox = processes.sandbox(latency_ms=SANDBOX_LATENCY_MS)
    processes.cluster(workers=2)
    run = start_queued_run(campaign_with(200), batch_size=10, delay_seconds=1)
    wait_for(
        "the first batch", lambda: BatchRun.objects.get(pk=run.pk).batches_done >= 1, timeout=30
    )
    in_flight = wait_for(
        "a batch in flight",
        lambda: set(
            Recipient.objects.filter(batch_run_id=run.pk, status="sending").values_list(
                "phone_number", flat=True
            )
        ),
        timeout=10,
        interval=0.01,
    )

    took = stop_and_time(run.pk)
    print(f"stop during a batch of {len(in_flight)}: stopped after {took * 1000:.0f} ms")

    assert took < STOP_WITHIN_SECONDS
    assert_nothing_sent_after_the_stop(sandbox, run)
    # What went out is recorded as sent; what had not gone out yet is pending again.
    counts = sandbox.accepted_counts()
    statuses = dict(
        Recipient.objects.filter(phone_number__in=in_flight).values_list("phone_number", "status")
    )
    assert {p for p, s in statuses.items() if s == "sent"} == in_flight & set(counts)
    assert {p for p, s in statuses.items() if s == "pending"} == in_flight - set(counts)
