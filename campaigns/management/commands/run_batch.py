"""Run a campaign's manual batch processing in the foreground, with a progress bar.

Same engine as the admin; Ctrl-C requests a clean stop (in-flight messages finish and are
recorded). Exit status: 0 completed, 1 refused or failed, 2 stopped.
"""

from __future__ import annotations

import signal
import sys
import threading
from argparse import ArgumentParser, ArgumentTypeError
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from campaigns.models import (
    BATCH_SIZE_DEFAULT,
    BATCH_SIZE_MAX,
    BATCH_SIZE_MIN,
    DELAY_SECONDS_DEFAULT,
    DELAY_SECONDS_MAX,
    DELAY_SECONDS_MIN,
    MAX_RETRIES_DEFAULT,
    MAX_RETRIES_MAX,
    MAX_RETRIES_MIN,
    BatchRun,
)
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.exceptions import BatchRunError
from campaigns.sending.progress import snapshot
from campaigns.sending.runs import request_stop, start_run

EXIT_FAILED = 1
EXIT_STOPPED = 2
BAR_WIDTH = 30
# Drive in long slices: there is no django-q2 timeout in the foreground.
FOREGROUND_SLICE_SECONDS = 3600.0


def bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise ArgumentTypeError(f"{text!r} is not a whole number") from exc
        if not low <= value <= high:
            raise ArgumentTypeError(f"must be between {low} and {high} (got {value})")
        return value

    return parse


class Command(BaseCommand):
    help = "Send a campaign's pending recipients in batches, in the foreground."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--campaign", type=int, required=True, help="Campaign id.")
        parser.add_argument(
            "--batch-size",
            type=bounded(BATCH_SIZE_MIN, BATCH_SIZE_MAX),
            default=BATCH_SIZE_DEFAULT,
        )
        parser.add_argument(
            "--delay",
            type=bounded(DELAY_SECONDS_MIN, DELAY_SECONDS_MAX),
            default=DELAY_SECONDS_DEFAULT,
            help="Seconds between batches.",
        )
        parser.add_argument(
            "--max-retries",
            type=bounded(MAX_RETRIES_MIN, MAX_RETRIES_MAX),
            default=MAX_RETRIES_DEFAULT,
        )
        parser.add_argument("--as", dest="username", help="Record the run as this user.")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = None
        if options["username"]:
            actor = get_user_model().objects.filter(username=options["username"]).first()
            if actor is None:
                raise CommandError(f"User not found: {options['username']}")
        try:
            run = start_run(
                campaign_id=options["campaign"],
                actor=actor,
                batch_size=options["batch_size"],
                delay_seconds=options["delay"],
                max_retries=options["max_retries"],
                via="command line",
                enqueue=False,
            )
        except BatchRunError as exc:
            raise CommandError(str(exc)) from exc

        self.stdout.write(
            f"Run #{run.pk} for “{run.campaign}”: {run.total_count} pending, batch "
            f"{run.batch_size}, delay {run.delay_seconds} s, retries {run.max_retries}. "
            "Ctrl-C stops it."
        )
        stopper = _CtrlC(run_id=run.pk, actor=actor)
        previous = signal.signal(signal.SIGINT, stopper.handle)
        try:
            result = DriveResult.HANDED_OVER
            while result == DriveResult.HANDED_OVER:
                result = drive(
                    run_id=run.pk,
                    slice_seconds=FOREGROUND_SLICE_SECONDS,
                    on_batch=lambda _run: self._draw(run.pk),
                    continue_in_queue=False,
                )
        finally:
            signal.signal(signal.SIGINT, previous)
            stopper.join()
        self._draw(run.pk)
        self.stdout.write("")
        run.refresh_from_db()
        self.stdout.write(f"Run #{run.pk} {run.get_status_display()}: {run.end_reason}")
        if result == DriveResult.NOT_OWNER:
            raise CommandError("Another worker is driving this run.")
        if run.status == BatchRun.Status.FAILED:
            sys.exit(EXIT_FAILED)
        if run.status == BatchRun.Status.STOPPED:
            sys.exit(EXIT_STOPPED)

    def _draw(self, run_id: int) -> None:
        # One query, and the campaign's counters as fresh as the run's.
        run = BatchRun.objects.select_related("campaign").get(pk=run_id)
        p = snapshot(run)
        filled = int(BAR_WIDTH * p.percent / 100)
        eta = f"{p.eta_seconds:.0f}s" if p.eta_seconds is not None else "-"
        rate = f"{p.rate_per_minute:.0f}/min" if p.rate_per_minute is not None else "-"
        self.stdout.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {p.percent:5.1f}% "
            f"{p.processed}/{p.total} sent {p.sent} failed {p.failed} retried {p.retried} "
            f"in doubt {p.in_doubt} batch {p.batches_done}/{p.batches_total} {rate} ETA {eta}",
            ending="",
        )
        self.stdout.flush()


class _CtrlC:
    """Turns SIGINT into a recorded stop request, made from a thread (not the handler)."""

    def __init__(self, *, run_id: int, actor: Any) -> None:
        self.run_id = run_id
        self.actor = actor
        self.thread: threading.Thread | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._stop, daemon=True)
            self.thread.start()

    def _stop(self) -> None:
        from django.db import connection

        try:
            request_stop(run_id=self.run_id, actor=self.actor, via="command line (Ctrl-C)")
        except BatchRunError:
            pass  # it ended meanwhile
        finally:
            connection.close()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=10)
