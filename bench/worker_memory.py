"""Worker memory stays flat whether a campaign has 10,000 or 1,000,000 pending recipients.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/blastadmin_d \\
        .venv/bin/python bench/worker_memory.py [--sizes 10000 1000000] [--batches 100] \\
        [--repeat 2]

For each size a campaign is written with one INSERT … generate_series (counters rebuilt with
``stats.recount``), a run is started, and a fresh process drives it for ``--batches``
batches of 50 with the pause removed — the same number of batches for every size, so only
the number of pending rows differs. That process reports its resident memory (RSS) after
Django and the client are set up, every 20 batches, and at its peak (VmHWM). The campaigns
are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from engine_common import (
    SandboxProcess,
    Spread,
    create_campaign,
    delete_campaigns,
    drive_run,
    make_client,
    rss_mb,
    setup_django,
    start,
    without_pacing,
)

BATCH_SIZE = 50
SAMPLE_EVERY = 20
THROUGHPUT = 1000


def child(run_id: int, url: str, batches: int) -> None:
    """Drive ``batches`` batches of the run and print what memory they took, as JSON."""
    setup_django(throughput_per_second=THROUGHPUT)
    client = make_client(url)
    start_rss, _peak = rss_mb()
    samples: list[float] = []

    def after_batch(done: int) -> None:
        if done % SAMPLE_EVERY == 0:
            samples.append(round(rss_mb()[0], 1))

    wall = time.perf_counter()
    with without_pacing():
        done = drive_run(run_id, client=client, max_batches=batches, after_batch=after_batch)
    wall = time.perf_counter() - wall
    end_rss, peak = rss_mb()
    client.close()
    print(
        json.dumps(
            {
                "batches": done,
                "start_rss": round(start_rss, 1),
                "end_rss": round(end_rss, 1),
                "peak_rss": round(peak, 1),
                "samples": samples,
                "seconds": round(wall, 2),
            }
        )
    )


def measure(size: int, sandbox: SandboxProcess, batches: int) -> dict[str, object]:
    written = time.perf_counter()
    campaign_id = create_campaign(recipients=size, name=f"bench memory {size}")
    written = time.perf_counter() - written
    try:
        run_id = start(campaign_id, batch_size=BATCH_SIZE)
        sandbox.reset()
        result = subprocess.run(
            [sys.executable, __file__, "--child", str(run_id), sandbox.url, str(batches)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"the driving process failed:\n{result.stderr}")
        figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        delete_campaigns([campaign_id])
    figures["write_seconds"] = round(written, 1)
    return figures


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3], batches=int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    setup_django(throughput_per_second=THROUGHPUT)
    sandbox = SandboxProcess(throughput=THROUGHPUT)
    peaks: dict[int, list[float]] = {size: [] for size in args.sizes}
    try:
        for number in range(1, args.repeat + 1):
            for size in args.sizes:
                figures = measure(size, sandbox, args.batches)
                peaks[size].append(float(figures["peak_rss"]))  # type: ignore[arg-type]
                print(
                    f"#{number} {size:>9,} pending (written in {figures['write_seconds']} s): "
                    f"{figures['batches']} batches in {figures['seconds']} s; RSS "
                    f"{figures['start_rss']} MiB after set-up → {figures['end_rss']} MiB after, "
                    f"peak {figures['peak_rss']} MiB; every {SAMPLE_EVERY} batches "
                    f"{figures['samples']}"
                )
    finally:
        sandbox.stop()

    for size in args.sizes:
        spread = Spread(tuple(peaks[size])).describe("MiB", best="min")
        print(f"peak RSS with {size:,} pending: {spread}")
    smallest, largest = min(args.sizes), max(args.sizes)
    growth = min(peaks[largest]) - min(peaks[smallest])
    print(f"peak RSS difference {largest:,} vs {smallest:,} pending: {growth:+.1f} MiB")


if __name__ == "__main__":
    main()
