"""What the engine benchmarks share: Django on PostgreSQL, a sandbox process, fast rows.

Call :func:`setup_django` before importing anything from ``campaigns``: the settings read
the environment (the sender throughput cap above all) once, when Django starts.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-sandbox-token"  # noqa: S105 - the sandbox's own throwaway token
PHONE_NUMBER_ID = "106540352242922"
TEMPLATE_PARAMETERS = [
    {"name": "participant_name", "value": "Peserta"},
    {"name": "location", "value": "Jakarta"},
]
SANDBOX_START_SECONDS = 30.0
# The benchmarks' very long slice: a drive() call never hands over in the middle.
ONE_SLICE_SECONDS = 3600


def setup_django(*, throughput_per_second: int) -> None:
    """Start Django against DATABASE_URL (PostgreSQL only), with DEBUG off, and migrate it."""
    from django.apps import apps

    if apps.ready:
        return
    # DEBUG on would keep every SQL query in memory and slow every one of them down.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blastadmin.settings")
    os.environ["WHATSAPP_ACCESS_TOKEN"] = TOKEN
    os.environ["WHATSAPP_PHONE_NUMBER_ID"] = PHONE_NUMBER_ID
    os.environ["WHATSAPP_THROUGHPUT_PER_SECOND"] = str(throughput_per_second)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if not settings.IS_POSTGRES:
        raise SystemExit(
            "Set DATABASE_URL to a PostgreSQL database, "
            "e.g. postgres://postgres@127.0.0.1:5432/blastadmin_bench"
        )
    call_command("migrate", verbosity=0)


class SandboxProcess:
    """``manage.py whatsapp_sandbox`` in its own process (its CPU is not the engine's)."""

    def __init__(self, *, latency_ms: float = 0.0, throughput: int = 0) -> None:
        command = [
            *(sys.executable, str(ROOT / "manage.py"), "whatsapp_sandbox", "--port", "0"),
            *("--latency-ms", str(latency_ms), "--throughput", str(throughput)),
            *("--token", TOKEN, "--phone-number-id", PHONE_NUMBER_ID, "--max-records", "1000"),
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.url = self._read_url()

    def _read_url(self) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + SANDBOX_START_SECONDS
        line = b""
        while time.monotonic() < deadline and b"\n" not in line:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        text = line.decode(errors="replace")
        if " on http://" not in text:
            self.stop()
            raise SystemExit(f"the sandbox did not start: {text!r}")
        return text.split(" on ", 1)[1].split()[0]

    def get(self, path: str) -> Any:
        response = requests.get(f"{self.url}/_sandbox/{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget accepted messages, so the next repetition's counts start at zero."""
        requests.post(f"{self.url}/_sandbox/reset", timeout=10).raise_for_status()

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy so far (to share out a run's load)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak, in MiB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    now = int(status["VmRSS"].split()[0]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return now, peak


def create_campaign(*, recipients: int, name: str, first_number: int = 0) -> int:
    """A campaign of ``recipients`` pending rows, written by one INSERT … generate_series."""
    from django.db import connection

    from campaigns import stats
    from campaigns.models import Campaign, Recipient

    campaign = Campaign.objects.create(
        name=name,
        template_name="event_reminder",
        template_language="id",
        template_parameters=TEMPLATE_PARAMETERS,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Recipient._meta.db_table}
                (campaign_id, phone_number, name, variables, status, attempts,
                 error_message, error_details, error_fbtrace_id, created_at, updated_at)
            SELECT %s, '+62812' || lpad((%s + g)::text, 8, '0'), 'Peserta ' || g, '{{}}'::jsonb,
                   'pending', 0, '', '', '', now(), now()
            FROM generate_series(0, %s - 1) AS g
            """,  # noqa: S608 (the table name is ours, the values are parameters)
            [campaign.pk, first_number, recipients],
        )
        cursor.execute(f"ANALYZE {Recipient._meta.db_table}")
    stats.recount(campaign.pk)
    return campaign.pk


def delete_campaigns(campaign_ids: Sequence[int]) -> None:
    """Remove the benchmark's campaigns, their rows and runs (the audit trail stays)."""
    from django.db import connection

    from campaigns.models import Campaign, Recipient

    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Recipient._meta.db_table} WHERE campaign_id = ANY(%s)",  # noqa: S608
            [list(campaign_ids)],
        )
    Campaign.objects.filter(pk__in=campaign_ids).delete()


def start(campaign_id: int, *, batch_size: int, delay_seconds: int = 1) -> int:
    from campaigns.sending.runs import start_run

    run = start_run(
        campaign_id=campaign_id,
        actor=None,
        batch_size=batch_size,
        delay_seconds=delay_seconds,
        max_retries=3,
        via="bench",
        enqueue=False,
    )
    return run.pk


@contextlib.contextmanager
def without_pacing() -> Iterator[None]:
    """Take the pause between batches out of the engine, in this benchmark process only."""
    from campaigns.sending import driver

    original = driver._pause

    def no_pause(watcher: Any, seconds: float, deadline: float) -> bool:
        return bool(watcher.should_stop.is_set())

    driver._pause = no_pause  # type: ignore[assignment]
    try:
        yield
    finally:
        driver._pause = original  # type: ignore[assignment]


def drive_run(
    run_id: int,
    *,
    client: Any,
    max_batches: int | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> int:
    """Drive a run in this process until it ends (or for ``max_batches``); returns batches.

    ``after_batch`` is called with the number of batches done after each one.
    """
    from campaigns.models import BatchRun
    from campaigns.sending.driver import drive
    from campaigns.sending.runs import request_stop

    batches = 0
    cut = threading.Event()

    def on_batch(run: BatchRun) -> None:
        nonlocal batches
        batches += 1
        if after_batch is not None:
            after_batch(batches)
        if max_batches is not None and batches >= max_batches and not cut.is_set():
            request_stop(run_id=run_id, actor=None, via="bench")
            cut.set()

    from campaigns.sending import driver

    paused = driver._pause

    def pause(watcher: Any, seconds: float, deadline: float) -> bool:
        return cut.is_set() or bool(paused(watcher, seconds, deadline))

    driver._pause = pause  # type: ignore[assignment]
    try:
        drive(
            run_id=run_id,
            client=client,
            slice_seconds=ONE_SLICE_SECONDS,
            on_batch=on_batch,
            continue_in_queue=False,
        )
    finally:
        driver._pause = paused  # type: ignore[assignment]
    return batches


def make_client(url: str, *, pool_size: int = 64) -> Any:
    from campaigns.whatsapp.client import WhatsAppClient

    return WhatsAppClient(
        base_url=url,
        api_version="v23.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token=TOKEN,
        connect_timeout=5,
        read_timeout=30,
        pool_size=pool_size,
    )


@dataclass(frozen=True)
class Spread:
    values: tuple[float, ...]

    def describe(self, unit: str, *, best: str = "max", digits: int = 1) -> str:
        def f(value: float) -> str:
            return f"{value:,.{digits}f}"

        best_value = max(self.values) if best == "max" else min(self.values)
        return (
            f"best {f(best_value)} {unit} (median {f(statistics.median(self.values))}, "
            f"range {f(min(self.values))}–{f(max(self.values))}, n={len(self.values)})"
        )
