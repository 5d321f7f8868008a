"""Benchmark: import a 100,000-row messy Indonesian CSV into a fresh campaign.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/blastadmin_bench \\
        .venv/bin/python bench/import_100k.py [--rows 100000]

Prints the time spent parsing (decode, CSV, phone normalisation) and writing (existing-number
check, bulk insert, counters, audit), and rows per second. The campaign is deleted at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blastadmin.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns import importing  # noqa: E402
from campaigns.models import Campaign, Recipient  # noqa: E402

SEED = 20240601
DEFAULT_ROWS = 100_000
TARGET_SECONDS = 15.0
MOBILE_PREFIXES = ("811", "812", "813", "821", "822", "852", "853", "857", "858", "877", "895")
FIRST_NAMES = ("Budi", "Siti", "Agus", "Dewi", "Rina", "Andi", "Putri", "Joko", "Nur", "Wati")
LAST_NAMES = ("Santoso", "Rahmawati", "Hidayat", "Lestari", "Saputra", "Wijaya", "Kusuma")
CITIES = ("Jakarta", "Surabaya", "Bandung", "Medan", "Makassar", "Semarang", "Denpasar")
INVALID_VALUES = ("12345", "tidak ada", "", "0812", "+62 8", "-")


def messy_number(rng: random.Random, index: int) -> str:
    """One distinct mobile number written the way people type them."""
    prefix = MOBILE_PREFIXES[index % len(MOBILE_PREFIXES)]
    rest = f"{index:08d}"
    national = f"{prefix}{rest}"
    style = rng.randrange(7)
    if style == 0:
        return f"0{prefix}-{rest[:4]}-{rest[4:]}"
    if style == 1:
        return f"+62 {prefix} {rest[:4]} {rest[4:]}"
    if style == 2:
        return f"62{national}"
    if style == 3:
        return national
    if style == 4:
        return f"0{prefix}.{rest[:4]}.{rest[4:]}"
    if style == 5:
        return f" 0{prefix} {rest[:4]} {rest[4:]} "
    return f"0{national}"


def generate_csv(rows: int) -> bytes:
    """Semicolon-separated (as Excel writes it in Indonesia), ~1% invalid, ~1% duplicates."""
    rng = random.Random(SEED)
    out = io.StringIO()
    out.write("No;Nama Lengkap;Nomor WhatsApp;Kota;Tanggal\r\n")
    for row in range(rows):
        roll = rng.random()
        if roll < 0.01:
            phone = rng.choice(INVALID_VALUES)
        elif roll < 0.02 and row:
            phone = messy_number(rng, rng.randrange(row))
        else:
            phone = messy_number(rng, row)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        out.write(
            f"{row + 1};{name};{phone};{rng.choice(CITIES)};2024-07-{rng.randint(1, 28):02d}\r\n"
        )
    return out.getvalue().encode("utf-8-sig")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    args = parser.parse_args()

    print(f"database: {connection.vendor} {settings.DATABASES['default'].get('NAME')}")
    started = time.perf_counter()
    data = generate_csv(args.rows)
    print(
        f"generated {args.rows:,} rows, {len(data) / 1_048_576:.1f} MiB in "
        f"{time.perf_counter() - started:.1f} s"
    )

    campaign = Campaign.objects.create(name="bench import", template_name="bench")
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        body = importing.read_limited(io.BytesIO(data), max_bytes=settings.IMPORT_MAX_FILE_BYTES)
        parsed = importing.parse_recipient_file(data=body, filename="bench.csv")
        t1, c1 = time.perf_counter(), time.process_time()
        result = importing.save_recipients(campaign=campaign, parsed=parsed, via="bench")
        t2, c2 = time.perf_counter(), time.process_time()
        stored = Recipient.objects.filter(campaign=campaign).count()
    finally:
        Campaign.objects.filter(pk=campaign.pk).delete()

    total = t2 - t0
    print(
        f"rows read {result.rows_read:,}  created {result.created:,}  stored {stored:,}  "
        f"duplicates {result.duplicates_in_file:,}  invalid {result.invalid:,}"
    )
    # CPU time of this process: a check on the wall time when other work shares the machine
    # (the write phase also waits on PostgreSQL, which is not counted here).
    print(f"parse {t1 - t0:6.2f} s  (cpu {c1 - c0:5.2f} s)  decode, CSV, phone normalisation")
    print(f"write {t2 - t1:6.2f} s  (cpu {c2 - c1:5.2f} s)  existing check, COPY, counters, audit")
    print(
        f"total {total:6.2f} s   {result.rows_read / total:,.0f} rows/s   "
        f"target < {TARGET_SECONDS:.0f} s: {'OK' if total < TARGET_SECONDS else 'TOO SLOW'}"
    )
    return 0 if total < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
