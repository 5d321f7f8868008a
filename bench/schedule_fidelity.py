"""Schedule fidelity: does a paced run take as long as its batches, delays and latency say?

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/blastadmin_d \\
        .venv/bin/python bench/schedule_fidelity.py [--recipients 1000] [--batch-size 50] \\
        [--delay 1] [--latency-ms 200] [--throughput 80] [--repeat 3]

The engine drives one run in this process exactly as a worker does, pauses included, against
the sandbox (in its own process) answering every message after ``--latency-ms``. The ideal
wall time is (batches − 1) × delay + batches × latency. The sender throttle lets a batch go
out at once while the last second has room under the cap (a batch of 50 at 80 msg/s does),
so the ideal needs no allowance for it.
"""

from __future__ import annotations

import argparse
import math
import time

from engine_common import (
    SandboxProcess,
    Spread,
    create_campaign,
    delete_campaigns,
    drive_run,
    make_client,
    setup_django,
    start,
)

TOLERANCE = 0.10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--delay", type=int, default=1, help="seconds between batches")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--throughput", type=int, default=80, help="msg/s cap per sender")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    setup_django(throughput_per_second=args.throughput)
    from django.db.models import Avg

    from campaigns.models import BatchRun, BatchRunLog

    batches = math.ceil(args.recipients / args.batch_size)
    latency = args.latency_ms / 1000
    ideal = (batches - 1) * args.delay + batches * latency
    print(
        f"{args.recipients} recipients, batch {args.batch_size}, delay {args.delay} s, latency "
        f"{args.latency_ms:g} ms, cap {args.throughput} msg/s: ideal {ideal:.2f} s "
        f"({batches} batches)"
    )

    sandbox = SandboxProcess(latency_ms=args.latency_ms, throughput=args.throughput)
    client = make_client(sandbox.url)
    walls: list[float] = []
    try:
        for number in range(1, args.repeat + 1):
            campaign_id = create_campaign(
                recipients=args.recipients, name=f"bench schedule {number}"
            )
            try:
                run_id = start(campaign_id, batch_size=args.batch_size, delay_seconds=args.delay)
                sandbox.reset()
                wall = time.perf_counter()
                done = drive_run(run_id, client=client)
                wall = time.perf_counter() - wall
                run = BatchRun.objects.get(pk=run_id)
                if run.status != "completed" or run.sent_count != args.recipients:
                    raise SystemExit(f"run {run_id} ended {run.status}: {run.end_reason}")
                batch_seconds = BatchRunLog.objects.filter(
                    run_id=run_id, batch_seconds__isnull=False
                ).aggregate(avg=Avg("batch_seconds"))["avg"]
            finally:
                delete_campaigns([campaign_id])
            walls.append(wall)
            print(
                f"#{number}: {done} batches in {wall:.2f} s — {wall / ideal - 1:+.1%} against the "
                f"ideal; average batch {batch_seconds:.3f} s"
            )
    finally:
        client.close()
        sandbox.stop()

    print(f"wall time: {Spread(tuple(walls)).describe('s', best='min', digits=2)}")
    for label, wall in (("best", min(walls)), ("median", sorted(walls)[len(walls) // 2])):
        deviation = wall / ideal - 1
        verdict = "within" if abs(deviation) <= TOLERANCE else "OUTSIDE"
        print(f"{label} run {deviation:+.1%} against the ideal: {verdict} {TOLERANCE:.0%}")


if __name__ == "__main__":
    main()
