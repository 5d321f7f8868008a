"""A run's wall time is (batches − 1) × delay + batches × provider latency."""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import pairwise

import pytest

from campaigns.models import BatchRun, BatchRunLog
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from campaigns.whatsapp.client import WhatsAppClient
from campaigns.whatsapp.sandbox import SandboxConfig, SandboxServer, start_sandbox
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)
LATENCY_SECONDS = 0.2


@pytest.fixture
def slow_sandbox() -> Iterator[SandboxServer]:
    server = start_sandbox(
        config=SandboxConfig.from_settings(
            throughput_per_second=0, latency_ms=LATENCY_SECONDS * 1000
        )
    )
    yield server
    server.stop()


def test_batches_go_out_concurrently_with_the_delay_between_them_and_none_after_the_last(
    slow_sandbox: SandboxServer, settings
) -> None:
    # Take the throughput spread out of the picture: this is about latency and pauses.
    settings.WHATSAPP_THROUGHPUT_PER_SECOND = 1000
    campaign = make_campaign()
    add_recipients(campaign, 15)
    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=5,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )
    client = WhatsAppClient(base_url=slow_sandbox.url, connect_timeout=2, read_timeout=2)

    started = time.monotonic()
    try:
        assert drive(run_id=run.pk, client=client) == DriveResult.FINISHED
    finally:
        client.close()
    wall = time.monotonic() - started

    batches = 3
    ideal = (batches - 1) * 1 + batches * LATENCY_SECONDS
    # Some bookkeeping per batch (more on a busy machine), but not another delay.
    assert ideal <= wall <= ideal + 0.9, f"wall {wall:.2f} s, ideal {ideal:.2f} s"
    summaries = list(
        BatchRunLog.objects.filter(run=run, batch_seconds__isnull=False).order_by("batch_number")
    )
    assert len(summaries) == batches
    # Five messages at 200 ms each took about 200 ms together, not a second.
    assert all(LATENCY_SECONDS <= s.batch_seconds < 3 * LATENCY_SECONDS for s in summaries)
    # One delay between batches …
    for before, after in pairwise(summaries):
        gap = (after.created_at - before.created_at).total_seconds()
        assert 1.0 <= gap < 1.0 + after.batch_seconds + 0.4
    # … and none after the last one: the run ends as soon as nothing is left.
    run.refresh_from_db()
    assert run.finished_at is not None
    assert (run.finished_at - summaries[-1].created_at).total_seconds() < 0.5
    assert BatchRun.objects.get(pk=run.pk).status == BatchRun.Status.COMPLETED
