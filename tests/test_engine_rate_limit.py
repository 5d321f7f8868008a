"""Rate-limit codes (4, 80007, 130429) slow the whole run down; it recovers when they stop."""

from __future__ import annotations

import pytest

from campaigns.models import BatchRun, BatchRunLog, Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from campaigns.whatsapp import errors
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_rate_limit_codes_grow_the_delay_and_clean_batches_bring_it_back(
    sandbox, whatsapp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The throttled recipients are due again by the next batch.
    monkeypatch.setattr(errors, "SLOW_DOWN_BACKOFF_BASE_SECONDS", 0.05)
    campaign = make_campaign()
    recipients = add_recipients(campaign, 3)
    codes = [4, 80007, 130429]
    sandbox.state.set_script(
        parse_script(
            {
                "numbers": {
                    r.phone_number: [{"kind": "error", "code": code, "times": 1}]
                    for r, code in zip(recipients, codes, strict=True)
                }
            }
        )
    )
    run = start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=3,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )
    stored_delays: list[float | None] = []

    def after_batch(_run: BatchRun) -> None:
        stored_delays.append(
            BatchRun.objects.values_list("current_delay_seconds", flat=True).get(pk=run.pk)
        )

    assert drive(run_id=run.pk, client=whatsapp, on_batch=after_batch) == DriveResult.FINISHED

    # Slowed to twice the configured delay after the throttled batch, back after a clean one.
    assert stored_delays == [2.0, 1.0]
    summaries = list(
        BatchRunLog.objects.filter(run=run, batch_seconds__isnull=False).order_by("batch_number")
    )
    gap = (summaries[1].created_at - summaries[0].created_at).total_seconds()
    assert gap >= 2.0
    warning = BatchRunLog.objects.get(run=run, message__startswith="Rate limit exceeded")
    assert "Rate limit exceeded — increase the delay between batches" in warning.message
    assert (warning.level, warning.batch_number) == (BatchRunLog.Level.WARNING, 1)
    assert BatchRunLog.objects.filter(
        run=run, batch_number=2, message__startswith="Rate limit cleared"
    ).exists()
    for code in codes:
        assert BatchRunLog.objects.filter(
            run=run, batch_number=1, message__startswith="Retry later", message__contains=str(code)
        ).exists()
    run.refresh_from_db()
    assert (run.status, run.current_delay_seconds, run.sent_count, run.retried_count) == (
        BatchRun.Status.COMPLETED,
        1.0,
        3,
        3,
    )
    assert set(Recipient.objects.values_list("attempts", flat=True)) == {2}
