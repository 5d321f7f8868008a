"""The real client against the real sandbox over HTTP (an in-process server thread)."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from campaigns.whatsapp.client import SendResult, WhatsAppClient
from campaigns.whatsapp.errors import Outcome
from campaigns.whatsapp.sandbox import SandboxConfig, SandboxServer, start_sandbox
from campaigns.whatsapp.sandbox_script import parse_script

TOKEN = "sandbox-test-token"
PHONE_NUMBER_ID = "106540352242922"
READ_TIMEOUT = 0.5

SCRIPT = {
    "numbers": {
        "+6281100000001": "131026",
        "+6281100000002": [{"kind": "error", "code": 130429, "times": 2}],
        "+6281100000003": "500",
        "+6281100000004": {"kind": "timeout", "seconds": 30},
        "+6281100000005": [{"kind": "drop", "times": 1}],
        "+6281100000006": {"kind": "timeout", "seconds": 30, "accept": True},
        "+6281100000007": "502",
        "+6281100000008": "131056",
    }
}


def start(**config: Any) -> SandboxServer:
    values: dict[str, Any] = {
        "access_token": TOKEN,
        "phone_number_ids": (PHONE_NUMBER_ID,),
        "throughput_per_second": 0,
        "script": parse_script(SCRIPT),
    }
    values.update(config)
    return start_sandbox(config=SandboxConfig(**values))


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start()
    yield server
    server.stop()


def make_client(server: SandboxServer, **overrides: Any) -> WhatsAppClient:
    values: dict[str, Any] = {
        "base_url": server.url,
        "api_version": "v23.0",
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": TOKEN,
        "connect_timeout": 2.0,
        "read_timeout": READ_TIMEOUT,
    }
    values.update(overrides)
    return WhatsAppClient(**values)


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[WhatsAppClient]:
    with make_client(sandbox) as whatsapp:
        yield whatsapp


def send(client: WhatsAppClient, to: str = "+6281234567890") -> SendResult:
    return client.send_template(
        to=to,
        template_name="event_reminder",
        language="id",
        parameters=[("participant_name", "Budi"), ("location", "Jakarta")],
        named=True,
    )


def counts(server: SandboxServer) -> dict[str, Any]:
    return requests.get(f"{server.url}/_sandbox/accepted-counts", timeout=5).json()


def test_a_message_is_sent_and_recorded_once(
    sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    result = send(client)
    assert result.outcome is Outcome.SENT
    assert result.wamid and result.wamid.startswith("wamid.")
    assert result.wa_id == "6281234567890"
    assert result.message_status == "accepted"
    accepted = requests.get(
        f"{sandbox.url}/_sandbox/accepted", params={"to": "+6281234567890"}, timeout=5
    ).json()
    assert [m["wamid"] for m in accepted["messages"]] == [result.wamid]
    assert accepted["messages"][0]["parameters"] == [
        {"name": "participant_name", "text": "Budi"},
        {"name": "location", "text": "Jakarta"},
    ]


def test_a_text_message_is_sent(client: WhatsAppClient) -> None:
    result = client.send_text(to="+6281234567890", body="Halo")
    assert result.is_sent
    assert result.message_status is None


def test_a_number_that_is_not_on_whatsapp_fails_permanently(
    sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    results = [send(client, "+6281100000001") for _ in range(2)]
    assert {(r.outcome, r.error_code, r.http_status) for r in results} == {
        (Outcome.PERMANENT, 131026, 400)
    }
    assert all(r.fbtrace_id for r in results)
    assert counts(sandbox)["total"] == 0


def test_rate_limited_twice_then_sent(client: WhatsAppClient) -> None:
    results = [send(client, "+6281100000002") for _ in range(3)]
    assert [r.outcome for r in results] == [Outcome.RETRY_LATER, Outcome.RETRY_LATER, Outcome.SENT]
    assert results[0].slow_down and results[0].error_code == 130429


def test_a_server_error_is_retried(client: WhatsAppClient) -> None:
    result = send(client, "+6281100000003")
    assert (result.outcome, result.http_status, result.error_code) == (
        Outcome.RETRY_LATER,
        500,
        1,
    )


def test_a_gateway_page_is_retried(client: WhatsAppClient) -> None:
    result = send(client, "+6281100000007")
    assert (result.outcome, result.http_status, result.error_code) == (
        Outcome.RETRY_LATER,
        502,
        None,
    )


def test_the_pair_rate_limit_retries_only_the_recipient(client: WhatsAppClient) -> None:
    assert send(client, "+6281100000008").outcome is Outcome.RETRY_RECIPIENT_LATER


def test_a_timeout_is_retried_after_the_read_timeout_and_nothing_is_accepted(
    sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    started = time.monotonic()
    result = send(client, "+6281100000004")
    elapsed = time.monotonic() - started
    assert result.outcome is Outcome.RETRY_LATER
    assert result.possibly_accepted
    assert result.error_type == "ReadTimeout"
    assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + 2
    assert counts(sandbox)["total"] == 0
    assert send(client).is_sent  # the pool still works afterwards


def test_a_timeout_after_acceptance_is_the_in_doubt_case(
    sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    result = send(client, "+6281100000006")
    assert result.outcome is Outcome.RETRY_LATER
    assert result.possibly_accepted
    assert counts(sandbox)["counts"] == {"+6281100000006": 1}


def test_a_dropped_connection_is_not_retried_behind_the_callers_back(
    sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    first = send(client, "+6281100000005")
    assert first.outcome is Outcome.RETRY_LATER
    assert first.possibly_accepted
    assert first.error_type == "ConnectionError"
    assert counts(sandbox)["total"] == 0
    assert send(client, "+6281100000005").is_sent
    assert counts(sandbox)["counts"] == {"+6281100000005": 1}


def test_a_wrong_token_is_fatal(sandbox: SandboxServer) -> None:
    with make_client(sandbox, access_token="wrong-token") as client:
        result = send(client)
    assert (result.outcome, result.error_code, result.http_status) == (Outcome.FATAL, 190, 401)
    assert "wrong-token" not in repr(result)


def test_an_unknown_phone_number_id_is_fatal(sandbox: SandboxServer) -> None:
    with make_client(sandbox, phone_number_id="999") as client:
        result = send(client)
    assert (result.outcome, result.error_code) == (Outcome.FATAL, 100)


def test_the_190_switch_makes_every_message_fatal(
    sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    requests.post(f"{sandbox.url}/_sandbox/script", json={"all": "190"}, timeout=5)
    results = [send(client, f"+628120000000{i}") for i in range(3)]
    assert {(r.outcome, r.error_code) for r in results} == {(Outcome.FATAL, 190)}
    assert "access token expired (190)" in results[0].hint


def test_the_throughput_cap_answers_130429_above_it() -> None:
    server = start(throughput_per_second=5)
    try:
        with (
            make_client(server) as client,
            concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool,
        ):
            results = list(pool.map(lambda i: send(client, f"+62812000{i:05d}"), range(20)))
        stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()
    finally:
        server.stop()
    limited = [r for r in results if r.error_code == 130429]
    assert limited, "20 messages at once must exceed 5 per second"
    assert all(r.outcome is Outcome.RETRY_LATER and r.slow_down for r in limited)
    assert sum(r.is_sent for r in results) + len(limited) == 20
    assert stats["accepted_peak_per_second"] <= 5
    assert stats["rejected_by_code"]["130429"] == len(limited)


def test_latency_is_added_to_every_answer() -> None:
    server = start(latency_ms=150)
    try:
        with make_client(server, read_timeout=5) as client:
            result = send(client)
    finally:
        server.stop()
    assert result.is_sent
    assert result.elapsed_seconds >= 0.15


def test_one_client_can_be_shared_by_many_threads(
    sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    numbers = [f"+62813{i:08d}" for i in range(200)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda to: send(client, to), numbers))
    assert all(r.is_sent for r in results)
    assert len({r.wamid for r in results}) == 200
    ground_truth = counts(sandbox)
    assert ground_truth["total"] == 200
    assert ground_truth["duplicates"] == {}


def test_accepted_counts_are_the_ground_truth_for_duplicates(
    sandbox: SandboxServer, client: WhatsAppClient
) -> None:
    send(client, "+6281200000001")
    send(client, "+6281200000001")
    send(client, "+6281200000002")
    ground_truth = counts(sandbox)
    assert ground_truth["counts"] == {"+6281200000001": 2, "+6281200000002": 1}
    assert ground_truth["duplicates"] == {"+6281200000001": 2}


def test_stopping_the_sandbox_releases_a_held_connection() -> None:
    server = start()
    client = make_client(server, read_timeout=30)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(send, client, "+6281100000004")
        time.sleep(0.3)
        started = time.monotonic()
        server.stop()
        result = pending.result(timeout=10)
    assert time.monotonic() - started < 5
    assert result.outcome is Outcome.RETRY_LATER
    client.close()
