"""The sandbox posts signed status webhooks like Meta's, in the background, after a delay."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from campaigns.whatsapp.sandbox import SandboxConfig, SandboxServer, start_sandbox
from campaigns.whatsapp.sandbox_script import ScriptError, parse_fault, parse_script
from campaigns.whatsapp.signature import signature_matches

TOKEN = "sandbox-token"
SECRET = "sandbox-app-secret"
PHONE_NUMBER_ID = "106540352242922"
MESSAGES_URL = f"/v23.0/{PHONE_NUMBER_ID}/messages"


class Receiver(ThreadingHTTPServer):
    """A stand-in for the app's webhook endpoint: keeps what it gets, can be slow or fail."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.posts: list[tuple[bytes, str | None]] = []
        self.answer = 200
        self.hold_seconds = 0.0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/whatsapp/"

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for body, _signature in self.posts]

    def statuses(self) -> list[dict[str, Any]]:
        return [
            status
            for payload in self.payloads()
            for entry in payload["entry"]
            for change in entry["changes"]
            for status in change["value"].get("statuses", [])
        ]


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.server.hold_seconds)
        with self.server.lock:
            self.server.posts.append((body, self.headers.get("X-Hub-Signature-256")))
        self.send_response(self.server.answer)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def make_sandbox(
    receiver: Receiver, *, script: dict[str, Any] | None = None, **values: Any
) -> SandboxServer:
    config = SandboxConfig(
        access_token=TOKEN,
        phone_number_ids=(PHONE_NUMBER_ID,),
        throughput_per_second=0,
        webhook_url=receiver.url,
        webhook_delay_ms=values.pop("webhook_delay_ms", 50),
        app_secret=SECRET,
        script=parse_script(script or {}),
        seed=1,
        **values,
    )
    return start_sandbox(config=config)


def send(sandbox: SandboxServer, to: str) -> requests.Response:
    body = {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": {"name": "event_reminder", "language": {"code": "id"}},
    }
    return requests.post(
        sandbox.url + MESSAGES_URL,
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def test_an_accepted_message_gets_signed_sent_delivered_and_read_in_that_order(
    receiver: Receiver,
) -> None:
    with make_sandbox(receiver) as sandbox:
        wamid = send(sandbox, "+6281234567890").json()["messages"][0]["id"]

        wait_for(lambda: len(receiver.statuses()) == 3)

    statuses = receiver.statuses()
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert {s["id"] for s in statuses} == {wamid}
    assert {s["recipient_id"] for s in statuses} == {"6281234567890"}
    assert all(s["timestamp"].isdigit() for s in statuses)
    for body, signature in receiver.posts:
        assert signature_matches(body, signature, app_secret=SECRET)
    payload = receiver.payloads()[0]
    assert payload["object"] == "whatsapp_business_account"
    metadata = payload["entry"][0]["changes"][0]["value"]["metadata"]
    assert metadata["phone_number_id"] == PHONE_NUMBER_ID


def test_nothing_is_posted_before_the_delay(receiver: Receiver) -> None:
    with make_sandbox(receiver, webhook_delay_ms=400) as sandbox:
        send(sandbox, "+6281234567890")
        time.sleep(0.2)
        assert receiver.posts == []
        wait_for(lambda: len(receiver.statuses()) >= 1)


def test_statuses_due_together_go_out_in_one_post(receiver: Receiver) -> None:
    with make_sandbox(receiver, webhook_delay_ms=300) as sandbox:
        for i in range(20):
            send(sandbox, f"+62812345{i:05d}")

        wait_for(lambda: len(receiver.statuses()) == 60)

    assert len(receiver.posts) < 20


def test_a_scripted_number_is_accepted_then_failed_by_webhook(receiver: Receiver) -> None:
    script = {
        "numbers": {
            "+6281100000009": {"kind": "fail_by_webhook", "code": 131049, "details": "limit"}
        }
    }
    with make_sandbox(receiver, script=script) as sandbox:
        response = send(sandbox, "+6281100000009")
        assert response.status_code == 200 and response.json()["messages"][0]["id"]

        wait_for(lambda: len(receiver.statuses()) == 2)

    sent, failed = receiver.statuses()
    assert (sent["status"], failed["status"]) == ("sent", "failed")
    (error,) = failed["errors"]
    assert error["code"] == 131049
    assert error["title"].startswith("This message was not delivered")
    assert error["error_data"]["details"] == "limit"


def test_fail_by_webhook_defaults_to_131049_and_reads_as_a_token() -> None:
    assert parse_fault("fail_by_webhook").code == 131049
    assert parse_fault({"kind": "fail_by_webhook"}).code == 131049
    assert parse_fault({"kind": "fail_by_webhook", "code": 131026}).code == 131026
    with pytest.raises(ScriptError):
        parse_fault({"kind": "fail_by_webhook", "accept": True})


def test_a_read_rate_leaves_some_messages_only_delivered(receiver: Receiver) -> None:
    with make_sandbox(receiver, webhook_read_rate=0.0) as sandbox:
        send(sandbox, "+6281234567890")
        wait_for(lambda: len(receiver.statuses()) == 2)
        time.sleep(0.2)

    assert [s["status"] for s in receiver.statuses()] == ["sent", "delivered"]


def test_a_slow_webhook_receiver_never_slows_the_api_down(receiver: Receiver) -> None:
    receiver.hold_seconds = 2.0
    with make_sandbox(receiver, webhook_delay_ms=0) as sandbox:
        send(sandbox, "+6281234567890")
        time.sleep(0.1)  # the first webhook POST is now being held by the receiver

        started = time.monotonic()
        for i in range(10):
            assert send(sandbox, f"+62812345{i:05d}").status_code == 200

        assert time.monotonic() - started < 1.0


def test_a_failed_post_is_tried_again(receiver: Receiver) -> None:
    receiver.answer = 503
    with make_sandbox(receiver) as sandbox:
        send(sandbox, "+6281234567890")
        wait_for(lambda: len(receiver.posts) >= 1)
        receiver.answer = 200

        wait_for(
            lambda: {s["status"] for s in receiver.statuses()} >= {"sent", "delivered", "read"}
        )

        assert sandbox.state.stats()["webhooks"]["failed_posts"] >= 1


def test_an_inbound_message_can_be_sent_through_the_control_endpoint(receiver: Receiver) -> None:
    with make_sandbox(receiver) as sandbox:
        response = requests.post(
            sandbox.url + "/_sandbox/inbound",
            json={"from": "+6281277776666", "text": "STOP"},
            timeout=5,
        )
        assert response.status_code == 200

        wait_for(lambda: len(receiver.posts) == 1)

    value = receiver.payloads()[0]["entry"][0]["changes"][0]["value"]
    (message,) = value["messages"]
    assert (message["from"], message["type"], message["text"]["body"]) == (
        "6281277776666",
        "text",
        "STOP",
    )


def test_without_a_webhook_url_nothing_is_posted_and_inbound_is_refused() -> None:
    config = SandboxConfig(access_token=TOKEN, phone_number_ids=(PHONE_NUMBER_ID,))
    with start_sandbox(config=config) as sandbox:
        assert send(sandbox, "+6281234567890").status_code == 200
        response = requests.post(
            sandbox.url + "/_sandbox/inbound", json={"from": "+62812", "text": "x"}, timeout=5
        )
        assert response.status_code == 409
        assert sandbox.state.stats()["webhooks"] is None
