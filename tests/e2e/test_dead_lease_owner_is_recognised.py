"""Recovery recognises a dead lease owner on this host, also before its zombie is reaped."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest

from campaigns.sending.lease import owner_is_dead_here
from tests.e2e.processes import wait_for


def owner(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:0123abcd"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are read from /proc")
def test_a_killed_process_that_is_not_reaped_yet_counts_as_dead() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert not owner_is_dead_here(owner(child.pid))
        child.send_signal(signal.SIGKILL)
        # Not waited for: the child stays a zombie, as workers of a killed cluster do.
        wait_for("the child to die", lambda: owner_is_dead_here(owner(child.pid)), timeout=5)
        state = Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0]
        assert state == "Z"  # still unreaped, yet recognised as dead
    finally:
        child.kill()
        child.wait()
    assert owner_is_dead_here(owner(child.pid))


def test_an_owner_on_another_host_is_never_declared_dead_from_here() -> None:
    assert not owner_is_dead_here(f"another-{socket.gethostname()}:1:0123abcd")
