"""Real processes for end-to-end tests: the sandbox, django-q2 clusters, bounded waits.

Every child is started in a session of its own, so killing it kills its whole process group
(a ``qcluster`` forks a sentinel, workers, a pusher and a monitor). :class:`Processes`
remembers everything it started and :meth:`Processes.close` SIGKILLs all of it; the e2e
fixtures call it in ``finally``, before pytest-django flushes the test database.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parents[2]
MANAGE = str(ROOT / "manage.py")
T = TypeVar("T")

# How long a child may take to import Django and listen / spawn its workers.
START_TIMEOUT_SECONDS = 30.0
LOG_TAIL_CHARS = 4000
_SANDBOX_URL = re.compile(r"sandbox on (http://\S+)")
_WORKER_READY = re.compile(r"ready for work at (\d+)")
# Variables a child must not inherit from the test process: it gets its own explicitly.
_CHILD_ENV_PREFIXES = ("WHATSAPP_", "SENDING_", "Q_", "DJANGO_")
_CHILD_ENV_NAMES = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "BLASTADMIN_ENV_FILE"}


class WaitTimeout(AssertionError):
    """A bounded wait ran out: the thing waited for did not happen in time."""


def wait_for(what: str, predicate: Callable[[], T], *, timeout: float, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def database_url(settings_dict: Mapping[str, Any]) -> str:
    """A DATABASE_URL for the database this process is connected to (the test database)."""
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(str(settings_dict['NAME']), safe='')}"


def child_env(*, base: Mapping[str, str], **values: str) -> dict[str, str]:
    """The test process's environment without app settings, plus ``base`` and ``values``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_CHILD_ENV_PREFIXES) and name not in _CHILD_ENV_NAMES
    }
    env.update(
        DJANGO_SETTINGS_MODULE="blastadmin.settings",
        # Never read a developer's .env: a child sees exactly what the test gives it.
        BLASTADMIN_ENV_FILE=str(ROOT / "does-not-exist.env"),
        PYTHONUNBUFFERED="1",
    )
    env.update(base)
    env.update(values)
    return env


class Child:
    """One started process (and its process group), its log file and how to kill it."""

    def __init__(self, *, name: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the whole process group and reap the leader."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def wait_for_log(self, what: str, pattern: re.Pattern[str], *, timeout: float) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            if not self.alive:
                raise AssertionError(f"{self.name} exited early:\n{self.log()[-LOG_TAIL_CHARS:]}")
            return pattern.search(self.log())

        return wait_for(f"{self.name}: {what}", found, timeout=timeout)


class Sandbox(Child):
    url: str = ""

    def get(self, path: str) -> Any:
        response = requests.get(f"{self.url}/_sandbox/{path}", timeout=5)
        response.raise_for_status()
        return response.json()

    def accepted_counts(self) -> dict[str, int]:
        """Per recipient phone number, how many times the sandbox accepted a message."""
        counts: dict[str, int] = self.get("accepted-counts")["counts"]
        return counts

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.get("stats")
        return stats


class Cluster(Child):
    def worker_pids(self) -> list[int]:
        """Worker processes of this cluster that are alive now (respawned ones included)."""
        pids = [int(pid) for pid in _WORKER_READY.findall(self.log())]
        return [pid for pid in pids if self.owns(pid)]

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` is a live process of this cluster (same process group)."""
        try:
            return os.getpgid(pid) == self.process.pid and not _is_zombie(pid)
        except ProcessLookupError:
            return False


class Processes:
    """Starts children with a common environment; :meth:`close` kills every one of them."""

    def __init__(self, *, log_dir: Path, env: Mapping[str, str]) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.children: list[Child] = []

    def _start(
        self, kind: type[Child], name: str, args: list[str], env: Mapping[str, str]
    ) -> Child:
        log_path = self.log_dir / f"{len(self.children):02d}-{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env=child_env(base=self.env, **env),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = kind(name=name, process=process, log_path=log_path)
        self.children.append(child)
        return child

    def sandbox(
        self,
        *,
        latency_ms: float = 0,
        throughput: int | None = None,
        script: Mapping[str, Any] | None = None,
        timeout_seconds: float | None = None,
        seed: int | None = None,
    ) -> Sandbox:
        """Start ``manage.py whatsapp_sandbox`` on a free port and wait until it answers."""
        args = [MANAGE, "whatsapp_sandbox", "--port", "0", "--latency-ms", str(latency_ms)]
        if throughput is not None:
            args += ["--throughput", str(throughput)]
        if timeout_seconds is not None:
            args += ["--timeout-seconds", str(timeout_seconds)]
        if seed is not None:
            args += ["--seed", str(seed)]
        if script is not None:
            script_path = self.log_dir / f"script-{len(self.children):02d}.json"
            script_path.write_text(json.dumps(script), encoding="utf-8")
            args += ["--script", str(script_path)]
        sandbox = self._start(Sandbox, "sandbox", args, {})
        assert isinstance(sandbox, Sandbox)
        match = sandbox.wait_for_log("listening", _SANDBOX_URL, timeout=START_TIMEOUT_SECONDS)
        sandbox.url = match.group(1)
        self.env["WHATSAPP_API_BASE_URL"] = sandbox.url
        wait_for("the sandbox to answer", lambda: sandbox.get("health"), timeout=10)
        return sandbox

    def cluster(self, *, workers: int = 2, **env: str) -> Cluster:
        """Start ``manage.py qcluster`` and wait until its workers are ready."""
        cluster = self._start(
            Cluster, "qcluster", [MANAGE, "qcluster"], {"Q_WORKERS": str(workers), **env}
        )
        assert isinstance(cluster, Cluster)
        wait_for(
            f"{workers} workers of {cluster.name} to be ready",
            lambda: _alive_or_fail(cluster) and len(cluster.worker_pids()) >= workers,
            timeout=START_TIMEOUT_SECONDS,
        )
        return cluster

    def manage(self, *args: str, timeout: float = 60, **env: str) -> str:
        """Run one ``manage.py`` command to completion with the common environment."""
        result = subprocess.run(
            [sys.executable, MANAGE, *args],
            cwd=ROOT,
            env=child_env(base=self.env, **env),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        assert result.returncode == 0, f"manage.py {args[0]} failed:\n{result.stderr}"
        return result.stdout

    def close(self) -> None:
        for child in reversed(self.children):
            child.kill()

    def report(self) -> str:
        """The tail of every child's log, for the output of a failed test."""
        parts = []
        for child in self.children:
            parts.append(f"----- {child.log_path.name} (pid {child.pid}) -----")
            parts.append(child.log()[-LOG_TAIL_CHARS:])
        return "\n".join(parts)


def _is_zombie(pid: int) -> bool:
    """A killed process whose parent has not reaped it yet still has a pid and a group."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself contain spaces.
    return stat.rpartition(")")[2].split()[0] == "Z"


def _alive_or_fail(child: Child) -> bool:
    if not child.alive:
        raise AssertionError(f"{child.name} exited early:\n{child.log()[-LOG_TAIL_CHARS:]}")
    return True
