"""`manage.py whatsapp_sandbox` starts a real server process, and refuses bad options."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from campaigns.whatsapp.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_command_starts_a_sandbox_that_answers(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"numbers": {"+6281100000001": "131026"}}))
    port = free_port()
    env = {**os.environ, "DEBUG": "1", "WHATSAPP_ACCESS_TOKEN": "command-token"}
    process = subprocess.Popen(
        [
            *(sys.executable, "manage.py", "whatsapp_sandbox", "--port", str(port)),
            *("--script", str(script), "--phone-number-id", "123"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        health = None
        while health is None and time.monotonic() < deadline and process.poll() is None:
            try:
                health = requests.get(f"{url}/_sandbox/health", timeout=1)
            except requests.ConnectionError:
                time.sleep(0.1)
        assert health is not None, "the sandbox did not answer in time"
        assert health.json() == {"status": "ok"}
        refused = requests.post(
            f"{url}/v23.0/123/messages",
            json={
                "messaging_product": "whatsapp",
                "to": "+6281100000001",
                "type": "text",
                "text": {"body": "Halo"},
            },
            headers={"Authorization": "Bearer command-token"},
            timeout=5,
        )
        assert refused.json()["error"]["code"] == 131026
    finally:
        process.kill()
        stdout, _ = process.communicate(timeout=10)
    assert f"sandbox on {url}" in stdout.decode()
    assert b"command-token" not in stdout


@pytest.fixture
def never_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail instead of hanging if a refused command were to start serving after all."""

    def serve_forever(self: SandboxServer, poll_interval: float = 0.1) -> None:
        raise AssertionError("the command should have refused to start")

    monkeypatch.setattr(SandboxServer, "serve_forever", serve_forever)


@pytest.mark.usefixtures("never_serve")
def test_a_missing_script_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        call_command("whatsapp_sandbox", "--script", str(tmp_path / "missing.json"))


@pytest.mark.usefixtures("never_serve")
def test_an_invalid_script_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"numbers": {"0812": "131026"}}))
    with pytest.raises(CommandError, match=r"E\.164"):
        call_command("whatsapp_sandbox", "--script", str(script))


@pytest.mark.usefixtures("never_serve")
def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match="Cannot listen"):
            call_command("whatsapp_sandbox", "--port", str(port))


@pytest.mark.usefixtures("never_serve")
@pytest.mark.parametrize(
    "option", [["--fail-rate", "1.5"], ["--port", "70000"], ["--latency-ms", "-1"]]
)
def test_out_of_range_options_are_refused(option: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("whatsapp_sandbox", *option)


@pytest.mark.usefixtures("never_serve")
def test_random_fault_kinds_are_checked() -> None:
    with pytest.raises(CommandError, match="teapot"):
        call_command("whatsapp_sandbox", "--fail-rate", "0.2", "--fail-kinds", "500,teapot")
