"""With 20 % of answers 5xx or timeouts, a run still finishes and every row ends final."""

from __future__ import annotations

import pytest
from django.conf import settings

from campaigns.models import BatchRun, Recipient
from tests.e2e.processes import Processes
from tests.e2e.scenario import (
    Stopwatch,
    assert_sent_exactly_once,
    campaign_with,
    start_queued_run,
    wait_until_finished,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="end-to-end tests run on PostgreSQL"),
]

RECIPIENTS, MAX_RETRIES = 80, 3
FAULTS = {"random": {"rate": 0.2, "faults": ["500", "503", "timeout"]}}


def test_a_run_with_one_answer_in_five_failing_finishes_with_every_row_final(
    processes: Processes,
) -> None:
    # A held connection ends the attempt after the client's 1 s read timeout.
    sandbox = processes.sandbox(script=FAULTS, timeout_seconds=5, seed=20)
    processes.cluster(workers=2, WHATSAPP_READ_TIMEOUT_SECONDS="1")
    campaign = campaign_with(RECIPIENTS)

    clock = Stopwatch()
    run = start_queued_run(campaign, batch_size=10, delay_seconds=1, max_retries=MAX_RETRIES)
    run = wait_until_finished(run.pk, timeout=120)
    faults = sandbox.stats()["faults"]
    print(f"{RECIPIENTS} recipients with 20 % faults: {run.status} in {clock.seconds():.1f} s")
    print(
        f"sandbox faults {faults}; run sent {run.sent_count}, failed {run.failed_count}, "
        f"retried {run.retried_count}, in doubt {run.in_doubt_count}, {run.batches_done} batches"
    )

    assert run.status == BatchRun.Status.COMPLETED, run.end_reason
    ground = assert_sent_exactly_once(sandbox, campaign)
    assert sum(ground.by_status.values()) == RECIPIENTS
    # Faults really happened, and were retried (5xx) or left in doubt (no answer).
    assert faults.get("http_500", 0) + faults.get("http_503", 0) > 0
    assert run.retried_count > 0
    timeouts = faults.get("timeout", 0)
    assert run.in_doubt_count == ground.by_status["in_doubt"] == timeouts
    # Never more attempts than 1 + max retries; the counts add up.
    attempts = Recipient.objects.filter(campaign=campaign).values_list("attempts", flat=True)
    assert max(attempts) <= MAX_RETRIES + 1
    assert run.sent_count + run.failed_count + run.in_doubt_count == RECIPIENTS
