"""Engine throughput with the pacing taken out: worker processes drive runs flat out.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/blastadmin_d \\
        .venv/bin/python bench/engine_throughput.py [--recipients 5000] [--batch-size 50] \\
        [--processes 1] [--repeat 3] [--throughput 1000]

Each process drives one run of its own campaign, exactly as a django-q2 worker does (claim
with SKIP LOCKED, concurrent sends under the shared sender throttle, one recording
transaction per batch), except that the pause between batches is removed in the benchmark
processes. The sandbox runs in a process of its own with zero latency; the app's per-sender
cap (WHATSAPP_THROUGHPUT_PER_SECOND) and the sandbox's cap are both ``--throughput``
(1,000 msg/s, WhatsApp's top tier), so with several processes the shared throttle is what
keeps the sandbox from answering 130429. Prints messages per second (per process and in
all), CPU milliseconds per message of each engine process (all its threads) and of the
sandbox, and how busy the whole machine was (PostgreSQL included). Campaigns are deleted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from dataclasses import dataclass

from engine_common import (
    SandboxProcess,
    Spread,
    create_campaign,
    delete_campaigns,
    drive_run,
    machine_busy_seconds,
    make_client,
    setup_django,
    start,
    without_pacing,
)

TARGET_PER_SECOND = 300


@dataclass(frozen=True)
class Driven:
    sent: int
    batches: int
    started: float  # time.time(), comparable across processes
    wall: float
    cpu: float


def drive_one(run_id: int, url: str, throughput: int, go: object | None = None) -> Driven:
    """Drive one run to its end in this process and measure it."""
    setup_django(throughput_per_second=throughput)
    from campaigns.models import BatchRun

    client = make_client(url)
    if go is not None:
        go.wait()  # type: ignore[attr-defined]
    started, wall, cpu = time.time(), time.perf_counter(), time.process_time()
    with without_pacing():
        batches = drive_run(run_id, client=client)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    client.close()
    run = BatchRun.objects.get(pk=run_id)
    if run.status != "completed":
        raise SystemExit(f"run {run_id} ended {run.status}: {run.end_reason}")
    return Driven(sent=run.sent_count, batches=batches, started=started, wall=wall, cpu=cpu)


def repetition(args: argparse.Namespace, sandbox: SandboxProcess, number: int) -> float:
    """One measured round; returns the messages per second of all processes together."""
    campaigns = [
        create_campaign(
            recipients=args.recipients,
            name=f"bench throughput {number}.{index}",
            first_number=index * args.recipients,
        )
        for index in range(args.processes)
    ]
    try:
        runs = [start(campaign_id, batch_size=args.batch_size) for campaign_id in campaigns]
        sandbox.reset()
        if args.processes == 1:
            sandbox_cpu, busy = sandbox.cpu_seconds(), machine_busy_seconds()
            results = [drive_one(runs[0], sandbox.url, args.throughput)]
        else:
            context = multiprocessing.get_context("spawn")
            with context.Manager() as manager:
                go = manager.Event()
                with context.Pool(args.processes) as pool:
                    pending = [
                        pool.apply_async(drive_one, (run_id, sandbox.url, args.throughput, go))
                        for run_id in runs
                    ]
                    time.sleep(args.processes * 2.0)  # let every process start Django first
                    sandbox_cpu, busy = sandbox.cpu_seconds(), machine_busy_seconds()
                    go.set()
                    results = [result.get(timeout=3600) for result in pending]
        sandbox_cpu, busy = sandbox.cpu_seconds() - sandbox_cpu, machine_busy_seconds() - busy
    finally:
        delete_campaigns(campaigns)

    stats = sandbox.get("stats")
    sent = sum(result.sent for result in results)
    expected = args.recipients * args.processes
    if sent != expected or stats["accepted_total"] != expected or stats["duplicate_recipients"]:
        raise SystemExit(f"sent {sent} of {expected}; the sandbox says {stats}")
    span = max(r.started + r.wall for r in results) - min(r.started for r in results)
    for index, result in enumerate(results, start=1):
        print(
            f"  process {index}: {result.sent:,} messages in {result.batches} batches in "
            f"{result.wall:.2f} s = {result.sent / result.wall:,.0f} msg/s; engine CPU "
            f"{result.cpu * 1000 / result.sent:.2f} ms/msg "
            f"({result.cpu / result.wall:.0%} of a core)"
        )
    print(
        f"#{number}: {sent:,} messages in {span:.2f} s = {sent / span:,.0f} msg/s in all; "
        f"sandbox CPU {sandbox_cpu * 1000 / sent:.2f} ms/msg; machine busy {busy / span:.0%} "
        f"of one core (2 cores = 200 %); 130429 answers: {stats['rejected_total']}"
    )
    return sent / span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=5000, help="per process")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--processes", type=int, default=1, help="engine processes at once")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--throughput", type=int, default=1000, help="msg/s cap per sender")
    args = parser.parse_args()

    setup_django(throughput_per_second=args.throughput)
    sandbox = SandboxProcess(latency_ms=0, throughput=args.throughput)
    try:
        rates = [repetition(args, sandbox, number) for number in range(1, args.repeat + 1)]
    finally:
        sandbox.stop()

    label = "per worker process" if args.processes == 1 else f"{args.processes} processes"
    print(f"engine throughput, {label}: {Spread(tuple(rates)).describe('msg/s', digits=0)}")
    if args.processes == 1:
        verdict = "meets" if max(rates) >= TARGET_PER_SECOND else "is BELOW"
        print(f"this {verdict} the target of {TARGET_PER_SECOND} msg/s per worker process")


if __name__ == "__main__":
    main()
