"""How many messages per second the WhatsApp sandbox answers (it must never be the bottleneck).

Starts ``manage.py whatsapp_sandbox`` in its own process (zero latency, no throughput cap),
then sends N template messages from several client processes, each with several threads,
and prints requests per second. ``--client whatsapp`` (default) sends through one pooled
keep-alive ``WhatsAppClient`` (requests) per process, as the engine does; ``--client http``
uses one bare keep-alive ``http.client`` connection per thread, so the figure is the
sandbox's own ceiling rather than the cost of ``requests`` in the clients.

    DEBUG=1 .venv/bin/python bench/sandbox_throughput.py --requests 20000 --client http
    DEBUG=1 .venv/bin/python bench/sandbox_throughput.py --requests 20000 --client whatsapp

``--url`` measures an already running sandbox instead (start it with ``--throughput 0``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from http import HTTPStatus
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-sandbox-token"  # noqa: S105 - the sandbox's own throwaway token
PHONE_NUMBER_ID = "106540352242922"


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blastadmin.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_healthy(url: str, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_sandbox/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"the sandbox at {url} did not start within {seconds:g} s")


def _client_process(
    kind: str, url: str, count: int, threads: int, offset: int
) -> tuple[int, int, float, float]:
    """Send ``count`` messages from ``threads`` threads: (sent, not sent, start, end)."""
    if kind == "whatsapp":
        _setup_django()  # before the clock starts
    started = time.time()
    if kind == "http":
        sent, failed = _http_client_process(url, count, threads, offset)
    else:
        sent, failed = _whatsapp_client_process(url, count, threads, offset)
    return sent, failed, started, time.time()


def _whatsapp_client_process(url: str, count: int, threads: int, offset: int) -> tuple[int, int]:
    from campaigns.whatsapp.client import WhatsAppClient

    client = WhatsAppClient(
        base_url=url,
        api_version="v23.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token=TOKEN,
        connect_timeout=5,
        read_timeout=30,
        pool_size=threads,
    )

    def send(index: int) -> bool:
        result = client.send_template(
            to=f"+62812{offset + index:08d}",
            template_name="event_reminder",
            language="id",
            parameters=[("participant_name", "Budi"), ("location", "Jakarta")],
            named=False,
        )
        return result.is_sent

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(send, range(count)))
    client.close()
    return sum(outcomes), len(outcomes) - sum(outcomes)


def _http_client_process(url: str, count: int, threads: int, offset: int) -> tuple[int, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    path = f"/v23.0/{PHONE_NUMBER_ID}/messages"
    local = threading.local()

    def send(index: int) -> bool:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        body = json.dumps(
            {
                "messaging_product": "whatsapp",
                "to": f"+62812{offset + index:08d}",
                "type": "template",
                "template": {"name": "event_reminder", "language": {"code": "id"}},
            }
        )
        local.connection.request("POST", path, body, headers)
        response = local.connection.getresponse()
        response.read()
        return response.status == HTTPStatus.OK

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(send, range(count)))
    return sum(outcomes), len(outcomes) - sum(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per client process")
    parser.add_argument("--client", choices=["whatsapp", "http"], default="whatsapp")
    parser.add_argument("--url", help="an already running sandbox (default: start one)")
    args = parser.parse_args()

    sandbox = None
    url = args.url
    if url is None:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DEBUG": "1"}
        sandbox = subprocess.Popen(
            [
                *(sys.executable, "manage.py", "whatsapp_sandbox", "--port", str(port)),
                *("--throughput", "0", "--token", TOKEN, "--phone-number-id", PHONE_NUMBER_ID),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    try:
        _wait_healthy(url)
        requests.post(f"{url}/_sandbox/reset", timeout=5)
        per_process = args.requests // args.processes
        cpu_before = _cpu_seconds(sandbox.pid) if sandbox is not None else None
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=args.processes, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            futures = [
                pool.submit(
                    _client_process, args.client, url, per_process, args.threads, i * per_process
                )
                for i in range(args.processes)
            ]
            results = [future.result() for future in futures]
        # From the first client starting to the last finishing (process start-up excluded).
        elapsed = max(result[3] for result in results) - min(result[2] for result in results)
        stats = requests.get(f"{url}/_sandbox/stats", timeout=5).json()
        cpu_after = _cpu_seconds(sandbox.pid) if sandbox is not None else None
    finally:
        if sandbox is not None:
            sandbox.terminate()
            sandbox.wait(timeout=10)

    sent = sum(result[0] for result in results)
    failed = sum(result[1] for result in results)
    total = sent + failed
    print(
        f"{args.client} client: {total} requests ({sent} accepted, {failed} not) from "
        f"{args.processes} processes × "
        f"{args.threads} threads in {elapsed:.2f} s: {total / elapsed:,.0f} req/s; "
        f"sandbox peak {stats['accepted_peak_per_second']:,} accepted/s, "
        f"duplicates {stats['duplicate_recipients']}"
    )
    if cpu_before is not None and cpu_after is not None and total:
        per_request = (cpu_after - cpu_before) / total
        print(
            f"sandbox CPU: {per_request * 1000:.2f} ms per request "
            f"(≈ {1 / per_request:,.0f} req/s on one dedicated core)"
        )


if __name__ == "__main__":
    main()
