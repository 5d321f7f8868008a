"""Benchmark: one signed webhook POST carrying 1,000 statuses, on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres blastadmin_bench_webhooks   # once
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/blastadmin_bench_webhooks \\
        .venv/bin/python bench/webhook_1000_statuses.py [--runs 7] [--statuses 1000]

Each run creates a fresh campaign of accepted recipients and POSTs one payload (through the
Django test client, so the whole middleware stack, the signature check, the raw-body storage
and the processing are timed) in which every recipient gets a status: 70 % delivered, 30 %
read, plus 1 % unknown wamids. It prints every run, the median (target under 1 s; Meta asks
for a median under 250 ms per request) and the time of a replay of the same POST (which
changes nothing). Migrates the database first; deletes what it created at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blastadmin.settings")
os.environ.setdefault("WHATSAPP_APP_SECRET", "bench-app-secret")
os.environ.setdefault("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from campaigns import stats  # noqa: E402
from campaigns.models import Campaign, Recipient, UnmatchedStatus, WebhookEvent  # noqa: E402
from campaigns.whatsapp.signature import SIGNATURE_HEADER, sign_body  # noqa: E402

TARGET_SECONDS = 1.0
META_MEDIAN_SECONDS = 0.25
URL = "/webhooks/whatsapp/"


def make_campaign(run: int, count: int) -> Campaign:
    campaign = Campaign.objects.create(name=f"webhook bench {run}", template_name="bench")
    now = timezone.now()
    rows = [
        Recipient(
            campaign=campaign,
            phone_number=f"+62813{run:02d}{i:06d}",
            status=Recipient.Status.SENT,
            wamid=f"wamid.BENCH{run:02d}{i:06d}",
            sent_at=now,
        )
        for i in range(count)
    ]
    Recipient.objects.bulk_create(rows, batch_size=1000)
    stats.shift(campaign.pk, {Recipient.Status.SENT: count})
    return campaign


def make_body(run: int, count: int) -> bytes:
    ts = str(int(time.time()))
    statuses = []
    for i in range(count):
        kind = "UNKNOWN" if i % 100 == 99 else "BENCH"
        statuses.append(
            {
                "id": f"wamid.{kind}{run:02d}{i:06d}",
                "status": "read" if i % 10 >= 7 else "delivered",
                "timestamp": ts,
                "recipient_id": f"62813{run:02d}{i:06d}",
                "conversation": {"id": "c", "origin": {"type": "marketing"}},
                "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing"},
            }
        )
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": settings.WHATSAPP_PHONE_NUMBER_ID,
                            },
                            "statuses": statuses,
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(payload).encode()


def post(client: Client, body: bytes) -> float:
    signature = sign_body(body, app_secret=settings.WHATSAPP_APP_SECRET)
    started = time.perf_counter()
    response = client.post(
        URL,
        data=body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: signature},
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"the webhook answered {response.status_code}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--statuses", type=int, default=1000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Point DATABASE_URL at PostgreSQL: the figure is for PostgreSQL.")
    call_command("migrate", verbosity=0)
    client = Client(HTTP_HOST="localhost")
    campaigns: list[Campaign] = []
    times: list[float] = []
    replays: list[float] = []
    first_event = WebhookEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    try:
        for run in range(args.runs):
            campaign = make_campaign(run, args.statuses)
            campaigns.append(campaign)
            body = make_body(run, args.statuses)
            elapsed = post(client, body)
            replay = post(client, body)
            times.append(elapsed)
            replays.append(replay)
            campaign.refresh_from_db()
            print(
                f"run {run + 1}: {elapsed * 1000:7.1f} ms  (replay {replay * 1000:6.1f} ms)  "
                f"delivered {campaign.delivered_count}, read {campaign.read_count}, "
                f"sent {campaign.sent_count}, body {len(body) / 1024:.0f} KiB"
            )
    finally:
        Campaign.objects.filter(pk__in=[c.pk for c in campaigns]).delete()
        UnmatchedStatus.objects.filter(wamid__startswith="wamid.UNKNOWN").delete()
        WebhookEvent.objects.filter(pk__gt=first_event).delete()
    median = statistics.median(times)
    print(
        f"\n{args.statuses} statuses in one POST on PostgreSQL: median {median * 1000:.1f} ms, "
        f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms over {args.runs} runs; "
        f"replay median {statistics.median(replays) * 1000:.1f} ms"
    )
    verdict = "OK" if median < TARGET_SECONDS else "SLOWER THAN THE TARGET"
    meta = "within" if median < META_MEDIAN_SECONDS else "above"
    print(f"target < {TARGET_SECONDS:.0f} s: {verdict}; {meta} Meta's 250 ms median")


if __name__ == "__main__":
    main()
