"""The progress snapshot tells the same story as the database, during and after a run."""

from __future__ import annotations

import math

import pytest
from django.db.models import Count

from campaigns.models import BatchRun, Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.progress import Progress, snapshot
from campaigns.sending.runs import start_run
from campaigns.whatsapp import errors
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)
DELAY = 1


def current(run_id: int) -> Progress:
    return snapshot(BatchRun.objects.select_related("campaign").get(pk=run_id))


def rows_by_status() -> dict[str, int]:
    return dict(Recipient.objects.values_list("status").annotate(n=Count("id")).order_by())


def test_progress_matches_the_recipient_rows_batch_by_batch_and_at_the_end(
    sandbox, whatsapp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errors, "RETRY_BACKOFF_BASE_SECONDS", 0.05)
    campaign = make_campaign()
    recipients = add_recipients(campaign, 7)
    sandbox.state.set_script(
        parse_script(
            {
                "numbers": {
                    recipients[0].phone_number: "131026",
                    recipients[1].phone_number: [{"kind": "http", "http_status": 500, "times": 1}],
                }
            }
        )
    )
    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=3,
        delay_seconds=DELAY,
        max_retries=3,
        enqueue=False,
    )
    during: list[tuple[Progress, dict[str, int]]] = []

    assert (
        drive(
            run_id=run.pk,
            client=whatsapp,
            on_batch=lambda _run: during.append((current(run.pk), rows_by_status())),
        )
        == DriveResult.FINISHED
    )

    assert [p.batches_done for p, _rows in during] == [1, 2, 3]
    for progress, rows in during:
        done = rows.get("sent", 0) + rows.get("failed", 0) + rows.get("in_doubt", 0)
        waiting = rows.get("pending", 0) + rows.get("sending", 0)
        assert (progress.processed, progress.pending, progress.total) == (done, waiting, 7)
        assert (progress.sent, progress.failed) == (rows.get("sent", 0), rows.get("failed", 0))
        remaining = math.ceil(waiting / 3)
        assert progress.batches_total == progress.batches_done + remaining
        assert progress.is_active and not progress.worker_stale
        assert progress.eta_seconds is not None
        # The ETA counts the pauses still to come, not only the sending.
        assert progress.eta_seconds >= max(remaining - 1, 0) * DELAY
    first = during[0][0]
    assert (first.sent, first.failed, first.retried, first.processed) == (1, 1, 1, 2)
    assert first.batches_total == 3 and first.percent == round(100 * 2 / 7, 1)

    final = current(run.pk)
    rows = rows_by_status()
    assert rows == {"sent": 6, "failed": 1}
    assert (final.status, final.processed, final.total, final.pending) == ("completed", 7, 7, 0)
    assert (final.sent, final.failed, final.retried, final.in_doubt) == (6, 1, 1, 0)
    assert (final.batches_done, final.batches_total, final.percent) == (3, 3, 100.0)
    assert final.eta_seconds in (None, 0.0)
    assert not final.worker_stale and not final.is_active
    assert final.rate_per_minute is not None and final.rate_per_minute > 0
    assert final.elapsed_seconds is not None and final.elapsed_seconds >= 2 * DELAY
