"""End to end over real HTTP: a run sends through the sandbox, whose signed webhooks the app
(Django's live server) accepts — deliveries, reads, failures, opt-outs and in-doubt rows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from campaigns import stats
from campaigns.models import AuditLog, BatchRun, Campaign, Recipient, Suppression, WebhookEvent
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from campaigns.whatsapp.client import WhatsAppClient
from campaigns.whatsapp.sandbox import SandboxConfig, SandboxServer, start_sandbox
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webhook_sandbox(live_server: Any) -> Iterator[SandboxServer]:
    """The sandbox, posting its webhooks (signed with the app's secret) to the live app."""
    config = SandboxConfig.from_settings(
        throughput_per_second=0,
        webhook_url=f"{live_server.url}/webhooks/whatsapp/",
        webhook_delay_ms=100,
    )
    server = start_sandbox(config=config)
    yield server
    server.stop()


@pytest.fixture
def client(webhook_sandbox: SandboxServer) -> Iterator[WhatsAppClient]:
    client = WhatsAppClient(base_url=webhook_sandbox.url, connect_timeout=5, read_timeout=5)
    yield client
    client.close()


def run(campaign: Campaign, client: WhatsAppClient) -> None:
    batch = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=5,
        delay_seconds=1,
        max_retries=1,
        enqueue=False,
    )
    assert drive(run_id=batch.pk, client=client) == DriveResult.FINISHED


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    events = list(WebhookEvent.objects.values_list("result", "error"))
    statuses = list(Recipient.objects.values_list("phone_number", "status", "wamid"))
    raise AssertionError(f"timed out waiting for {what}: events {events}, recipients {statuses}")


def figures(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {s: getattr(campaign, f) for s, f in stats.COUNTER_FIELDS.items()}


def test_deliveries_and_reads_arrive_by_signed_webhook_and_count_in_the_campaign(
    webhook_sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    campaign = make_campaign()
    add_recipients(campaign, 6)

    run(campaign, client)
    wait_for("every message to be read", lambda: figures(campaign)["read"] == 6)

    assert Recipient.objects.filter(read_at__isnull=False, delivered_at__isnull=False).count() == 6
    assert stats.recount(campaign.pk) == figures(campaign)
    events = WebhookEvent.objects.all()
    assert events.exists()
    assert all(e.signature_valid and e.result == WebhookEvent.Result.PROCESSED for e in events)


def test_a_number_scripted_to_fail_by_webhook_ends_failed_with_its_code(
    webhook_sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    campaign = make_campaign()
    limited, _fine = add_recipients(campaign, 2)
    webhook_sandbox.state.set_script(
        parse_script({"numbers": {limited.phone_number: "fail_by_webhook"}})
    )

    run(campaign, client)
    wait_for(
        "the failure and the read",
        lambda: figures(campaign)["failed"] == 1 and figures(campaign)["read"] == 1,
    )

    limited.refresh_from_db()
    assert (limited.status, limited.error_code) == (Recipient.Status.FAILED, 131049)
    assert limited.wamid and limited.failed_at is not None
    batch = BatchRun.objects.get()
    assert (batch.sent_count, batch.failed_count) == (2, 0)  # the run saw two acceptances


def test_a_message_held_in_doubt_is_resolved_by_its_webhook(
    webhook_sandbox: SandboxServer,
) -> None:
    campaign = make_campaign()
    doubtful, _fine = add_recipients(campaign, 2)
    # Accepted, then no answer before the client's 1 s read timeout: the engine holds it in doubt.
    webhook_sandbox.state.set_script(
        parse_script(
            {"numbers": {doubtful.phone_number: {"kind": "timeout", "seconds": 6, "accept": True}}}
        )
    )

    with WhatsAppClient(base_url=webhook_sandbox.url, connect_timeout=5, read_timeout=1) as client:
        run(campaign, client)
    wait_for(
        "the in-doubt recipient to be read",
        lambda: Recipient.objects.get(pk=doubtful.pk).status == "read",
    )

    doubtful.refresh_from_db()
    assert doubtful.wamid
    assert figures(campaign)["in_doubt"] == 0
    entry = AuditLog.objects.get(action="recipients.resolve_in_doubt")
    assert entry.actor_username == "" and entry.details["via"] == "webhook"
    # Resolved, never sent twice.
    assert webhook_sandbox.state.accepted_counts()["counts"][doubtful.phone_number] == 1


def test_a_stop_reply_suppresses_the_number_for_the_next_run(
    webhook_sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    response = requests.post(
        webhook_sandbox.url + "/_sandbox/inbound",
        json={"from": "+6281200000000", "text": "stop"},
        timeout=5,
    )
    assert response.status_code == 200
    wait_for(
        "the opt-out", lambda: Suppression.objects.filter(phone_number="+6281200000000").exists()
    )
    campaign = make_campaign()
    (opted_out,) = add_recipients(campaign, 1)

    run(campaign, client)

    opted_out.refresh_from_db()
    assert (opted_out.status, opted_out.error_message) == ("failed", "suppressed: opted out (STOP)")
    assert webhook_sandbox.state.accepted_counts()["total"] == 0
