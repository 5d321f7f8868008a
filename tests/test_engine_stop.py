"""A stop request takes effect within a second; nothing new is sent after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from campaigns import stats
from campaigns.models import AuditLog, BatchRun, Campaign, Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import request_stop, start_run
from campaigns.whatsapp.client import WhatsAppClient
from campaigns.whatsapp.sandbox import SandboxConfig, SandboxServer, start_sandbox
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)
LATENCY_SECONDS = 0.3


@pytest.fixture
def slow_sandbox() -> Iterator[SandboxServer]:
    """A sandbox that answers each message after 300 ms, so messages are in flight."""
    server = start_sandbox(
        config=SandboxConfig.from_settings(
            throughput_per_second=0, latency_ms=LATENCY_SECONDS * 1000
        )
    )
    yield server
    server.stop()


@pytest.fixture
def slow_whatsapp(slow_sandbox: SandboxServer) -> Iterator[WhatsAppClient]:
    client = WhatsAppClient(base_url=slow_sandbox.url, connect_timeout=2, read_timeout=2)
    yield client
    client.close()


class Driver(threading.Thread):
    """Drives a run in the background, as a worker would, with its own DB connection."""

    def __init__(self, run_id: int, client: WhatsAppClient, **options: Any) -> None:
        super().__init__(daemon=True)
        self.kwargs = {"run_id": run_id, "client": client, **options}
        self.result: str | None = None
        self.finished_at: float | None = None

    def run(self) -> None:
        try:
            self.result = drive(**self.kwargs)
            self.finished_at = time.monotonic()
        finally:
            connection.close()


def start(campaign: Campaign, *, batch_size: int, delay_seconds: int = 1) -> BatchRun:
    return start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=batch_size,
        delay_seconds=delay_seconds,
        max_retries=3,
        enqueue=False,
    )


def wait_for(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def stopped_within(run_id: int, *, seconds: float) -> float:
    """Seconds until the run's row says stopped; fails beyond ``seconds``."""
    started = time.monotonic()
    wait_for(
        lambda: BatchRun.objects.get(pk=run_id).status == BatchRun.Status.STOPPED,
        timeout=seconds,
    )
    return time.monotonic() - started


def assert_every_row_is_known_and_counted(campaign: Campaign) -> None:
    assert not Recipient.objects.filter(campaign=campaign, status="sending").exists()
    campaign.refresh_from_db()
    counters = {status: getattr(campaign, f"{status}_count") for status in Recipient.Status.values}
    assert stats.recount(campaign.pk) == counters


def test_a_stop_during_a_batch_ends_the_run_within_a_second_and_sends_nothing_new(
    slow_sandbox: SandboxServer, slow_whatsapp: WhatsAppClient, settings
) -> None:
    # Ten a second: the batch of ten is spread over a second, so the stop lands inside it.
    settings.WHATSAPP_THROUGHPUT_PER_SECOND = 10
    operator = User.objects.create_user("stopper")
    campaign = make_campaign()
    add_recipients(campaign, 30)
    run = start(campaign, batch_size=10)
    driver = Driver(run.pk, slow_whatsapp)
    driver.start()
    wait_for(lambda: slow_sandbox.state.accepted_counts()["total"] >= 3)

    stop_wall = time.time()
    request_stop(run_id=run.pk, actor=operator, via="test")
    took = stopped_within(run.pk, seconds=1.0)
    driver.join(timeout=5)

    assert driver.result == DriveResult.FINISHED and took < 1.0
    accepted = slow_sandbox.state.accepted()
    # Only messages already on their way when the stop was seen (one watcher poll plus the
    # answer latency) reached WhatsApp; the rest of the batch was never sent.
    late = settings.SENDING_STOP_POLL_SECONDS + LATENCY_SECONDS + 0.2
    assert all(message["accepted_at"] <= stop_wall + late for message in accepted)
    assert len(accepted) < 10
    # In-flight messages finished and were recorded: the sandbox and the database agree.
    sent = dict(Recipient.objects.filter(status="sent").values_list("phone_number", "wamid"))
    assert sent == {message["to"]: message["wamid"] for message in accepted}
    assert set(Recipient.objects.exclude(status="sent").values_list("status", flat=True)) == {
        Recipient.Status.PENDING
    }
    assert_every_row_is_known_and_counted(campaign)
    run.refresh_from_db()
    assert (run.status, run.batches_done, run.sent_count) == ("stopped", 1, len(accepted))
    assert run.end_reason == "Stopped by stopper"
    stop = AuditLog.objects.get(action="batch.stop")
    assert (stop.actor_username, stop.details["via"]) == ("stopper", "test")
    assert AuditLog.objects.get(action="batch.stopped").details["stopped_by"] == "stopper"


def test_a_stop_during_the_pause_ends_the_run_at_once_and_a_new_run_continues(
    sandbox, whatsapp
) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 8)
    run = start(campaign, batch_size=3, delay_seconds=30)
    first_batch_done = threading.Event()
    driver = Driver(run.pk, whatsapp, on_batch=lambda _run: first_batch_done.set())
    driver.start()
    assert first_batch_done.wait(timeout=10)

    request_stop(run_id=run.pk, actor=None)
    took = stopped_within(run.pk, seconds=1.0)
    driver.join(timeout=5)

    assert took < 1.0 and driver.result == DriveResult.FINISHED
    run.refresh_from_db()
    assert (run.sent_count, run.end_reason) == (3, "Stopped by the system")
    assert_every_row_is_known_and_counted(campaign)
    assert campaign.pending_count == 5

    second = start(campaign, batch_size=5)
    assert second.total_count == 5
    assert drive(run_id=second.pk, client=whatsapp) == DriveResult.FINISHED
    counts = sandbox.state.accepted_counts()
    assert (counts["total"], counts["recipients"], counts["duplicates"]) == (8, 8, {})
    campaign.refresh_from_db()
    assert (campaign.status, campaign.sent_count) == (Campaign.Status.COMPLETED, 8)


def test_a_queued_run_stopped_before_it_starts_never_sends(sandbox, whatsapp) -> None:
    operator = User.objects.create_user("early")
    campaign = make_campaign()
    add_recipients(campaign, 3)
    run = start(campaign, batch_size=3)

    stopped = request_stop(run_id=run.pk, actor=operator)

    assert stopped.status == BatchRun.Status.STOPPED
    assert stopped.end_reason == "Stopped by early before it started"
    assert stopped.finished_at is not None
    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.NOT_OWNER
    assert sandbox.state.accepted_counts()["total"] == 0
    assert set(Recipient.objects.values_list("status", flat=True)) == {"pending"}
    assert AuditLog.objects.get(action="batch.stop").actor_username == "early"
