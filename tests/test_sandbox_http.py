"""The sandbox's HTTP layer: keep-alive, Meta-style refusals and the /_sandbox/ endpoints."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from campaigns.whatsapp.sandbox import SandboxConfig, SandboxServer, start_sandbox
from campaigns.whatsapp.sandbox_script import parse_script

TOKEN = "sandbox-test-token"
PATH = "/v23.0/106540352242922/messages"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
MESSAGE = {
    "messaging_product": "whatsapp",
    "to": "+6281234567890",
    "type": "template",
    "template": {"name": "event_reminder", "language": {"code": "id"}},
}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        access_token=TOKEN,
        phone_number_ids=("106540352242922",),
        script=parse_script({"numbers": {"+6281100000001": "131026"}}),
    )
    server = start_sandbox(config=config)
    yield server
    server.stop()


@pytest.fixture
def connection(sandbox: SandboxServer) -> Iterator[http.client.HTTPConnection]:
    parts = urlsplit(sandbox.url)
    assert parts.hostname and parts.port
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    yield conn
    conn.close()


def call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    conn.request(method, path, data, headers or HEADERS)
    response = conn.getresponse()
    raw = response.read()
    return response.status, json.loads(raw) if raw else None


def test_one_connection_carries_many_requests(connection: http.client.HTTPConnection) -> None:
    for _ in range(5):
        status, body = call(connection, "POST", PATH, MESSAGE)
        assert status == 200
        assert body["messages"][0]["id"].startswith("wamid.")
    sock = connection.sock
    assert sock is not None  # still the same open keep-alive socket
    call(connection, "GET", "/_sandbox/health")
    assert connection.sock is sock


def test_a_get_on_the_messages_path_is_refused_like_meta(
    connection: http.client.HTTPConnection,
) -> None:
    status, body = call(connection, "GET", PATH)
    assert status == 400
    assert body["error"]["code"] == 100


def test_a_bad_content_length_is_refused_not_a_crash(sandbox: SandboxServer) -> None:
    parts = urlsplit(sandbox.url)
    assert parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n".encode())
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_health_answers_ok(connection: http.client.HTTPConnection) -> None:
    assert call(connection, "GET", "/_sandbox/health") == (200, {"status": "ok"})


def test_accepted_takes_the_plus_of_the_number_literally(
    connection: http.client.HTTPConnection,
) -> None:
    call(connection, "POST", PATH, MESSAGE)
    status, body = call(connection, "GET", "/_sandbox/accepted?to=+6281234567890")
    assert status == 200
    assert body["count"] == 1
    _, encoded = call(connection, "GET", "/_sandbox/accepted?to=%2B6281234567890")
    assert encoded["count"] == 1
    _, everything = call(connection, "GET", "/_sandbox/accepted")
    assert everything["count"] == 1
    status, _ = call(connection, "GET", "/_sandbox/accepted?limit=many")
    assert status == 400


def test_stats_report_accepted_and_rejected_by_code(
    connection: http.client.HTTPConnection,
) -> None:
    call(connection, "POST", PATH, MESSAGE)
    call(connection, "POST", PATH, {**MESSAGE, "to": "+6281100000001"})
    status, stats = call(connection, "GET", "/_sandbox/stats")
    assert status == 200
    assert stats["accepted_total"] == 1
    assert stats["rejected_by_code"] == {"131026": 1}
    assert stats["throughput_per_second"] == 80


def test_reset_clears_the_records(connection: http.client.HTTPConnection) -> None:
    call(connection, "POST", PATH, MESSAGE)
    assert call(connection, "POST", "/_sandbox/reset") == (200, {"status": "reset"})
    _, counts = call(connection, "GET", "/_sandbox/accepted-counts")
    assert counts == {"total": 0, "recipients": 0, "duplicates": {}, "counts": {}}


def test_the_script_can_be_read_and_replaced(connection: http.client.HTTPConnection) -> None:
    assert call(connection, "GET", "/_sandbox/script") == (
        200,
        {"numbers": {"+6281100000001": "131026"}},
    )
    assert call(connection, "POST", "/_sandbox/script", {"all": "131000"})[0] == 200
    status, body = call(connection, "POST", PATH, MESSAGE)
    assert (status, body["error"]["code"]) == (500, 131000)


@pytest.mark.parametrize("script", [b"{not json", {"all": "teapot"}, ["131026"]])
def test_an_invalid_script_is_refused_and_the_old_one_kept(
    connection: http.client.HTTPConnection, script: Any
) -> None:
    status, body = call(connection, "POST", "/_sandbox/script", script)
    assert status == 400
    assert body["error"]
    assert call(connection, "POST", PATH, MESSAGE)[0] == 200


def test_an_unknown_control_endpoint_is_404(connection: http.client.HTTPConnection) -> None:
    status, body = call(connection, "DELETE", "/_sandbox/everything")
    assert status == 404
    assert "no sandbox endpoint" in body["error"]
