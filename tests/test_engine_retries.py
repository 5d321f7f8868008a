"""Retryable errors go back with exponential backoff and jitter; every real attempt counts once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import BatchRun, BatchRunLog, Campaign, Recipient
from campaigns.sending import lease
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.recording import claim_batch, record_batch
from campaigns.sending.runs import start_run
from campaigns.whatsapp import errors
from campaigns.whatsapp.client import SendResult
from campaigns.whatsapp.errors import Outcome
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries become due within the next batch instead of seconds later."""
    monkeypatch.setattr(errors, "RETRY_BACKOFF_BASE_SECONDS", 0.05)
    monkeypatch.setattr(errors, "SLOW_DOWN_BACKOFF_BASE_SECONDS", 0.05)


def start(campaign: Campaign, *, batch_size: int = 5, max_retries: int = 3) -> BatchRun:
    return start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=batch_size,
        delay_seconds=1,
        max_retries=max_retries,
        enqueue=False,
    )


@pytest.mark.django_db(transaction=True)
def test_a_recipient_throttled_twice_is_sent_on_its_third_attempt(
    sandbox, whatsapp, fast_backoff, settings
) -> None:
    # Keep the pause at 1 s: this test is about the recipient, not the run's slow-down.
    settings.SENDING_MAX_DELAY_SECONDS = 1
    campaign = make_campaign()
    throttled, other = add_recipients(campaign, 2)
    sandbox.state.set_script(
        parse_script(
            {"numbers": {throttled.phone_number: [{"kind": "error", "code": 130429, "times": 2}]}}
        )
    )
    run = start(campaign, max_retries=3)

    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.FINISHED

    throttled.refresh_from_db()
    assert (throttled.status, throttled.attempts) == (Recipient.Status.SENT, 3)
    assert throttled.wamid and throttled.error_code is None
    other.refresh_from_db()
    assert (other.status, other.attempts) == (Recipient.Status.SENT, 1)
    assert sandbox.state.stats()["rejected_by_code"] == {"130429": 2}
    assert sandbox.state.accepted_counts()["counts"] == {
        throttled.phone_number: 1,
        other.phone_number: 1,
    }
    run.refresh_from_db()
    assert (run.status, run.sent_count, run.failed_count, run.retried_count) == (
        BatchRun.Status.COMPLETED,
        2,
        0,
        2,
    )
    retries = BatchRunLog.objects.filter(run=run, message__startswith="Retry later").order_by("id")
    assert [("(attempt 1)" in r.message, "(attempt 2)" in r.message) for r in retries] == [
        (True, False),
        (False, True),
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("max_retries", [1, 2])
def test_a_recipient_that_keeps_failing_is_failed_after_max_retries_plus_one_attempts(
    sandbox, whatsapp, fast_backoff, max_retries: int
) -> None:
    campaign = make_campaign()
    (broken,) = add_recipients(campaign, 1)
    sandbox.state.set_script(parse_script({"numbers": {broken.phone_number: "500"}}))
    run = start(campaign, max_retries=max_retries)

    assert drive(run_id=run.pk, client=whatsapp) == DriveResult.FINISHED

    broken.refresh_from_db()
    assert broken.status == Recipient.Status.FAILED
    assert broken.attempts == max_retries + 1
    assert sandbox.state.stats()["faults"] == {"http_500": max_retries + 1}
    assert (broken.error_code, broken.error_http_status) == (1, 500)
    assert broken.error_fbtrace_id
    assert broken.next_attempt_at is None and broken.failed_at is not None
    run.refresh_from_db()
    assert (run.status, run.failed_count, run.retried_count, run.batches_done) == (
        BatchRun.Status.COMPLETED,
        1,
        max_retries,
        max_retries + 1,
    )
    campaign.refresh_from_db()
    assert (campaign.status, campaign.failed_count) == (Campaign.Status.COMPLETED, 1)


def _claim_and_fail(run: BatchRun, owner: str, result: SendResult, *, batch_number: int):  # type: ignore[no-untyped-def]
    claimed = claim_batch(run_id=run.pk, campaign_id=run.campaign_id, owner=owner, limit=50)
    before = timezone.now()
    record_batch(
        run_id=run.pk,
        campaign_id=run.campaign_id,
        batch_number=batch_number,
        max_retries=run.max_retries,
        results=[(c, result) for c in claimed],
        batch_seconds=0.1,
    )
    rows = list(Recipient.objects.filter(pk__in=[c.pk for c in claimed]))
    return [(r.next_attempt_at - before).total_seconds() for r in rows], rows


@pytest.mark.django_db
def test_retry_waits_double_per_attempt_with_jitter() -> None:
    campaign = make_campaign()
    add_recipients(campaign, 20)
    run = start(campaign, batch_size=50, max_retries=5)
    owner = lease.new_owner()
    assert lease.acquire(run_id=run.pk, owner=owner)
    BatchRun.objects.filter(pk=run.pk).update(status=BatchRun.Status.RUNNING)
    server_error = SendResult(outcome=Outcome.RETRY_LATER, http_status=500, error_code=1)

    first, rows = _claim_and_fail(run, owner, server_error, batch_number=1)
    assert all(r.status == Recipient.Status.PENDING and r.attempts == 1 for r in rows)
    base = errors.RETRY_BACKOFF_BASE_SECONDS
    assert all(base * 0.8 - 0.1 <= w <= base * 1.2 + 0.1 for w in first)
    assert len({round(w, 3) for w in first}) > 10, "failed together, must not retry together"

    # Nothing is claimed before its backoff has expired.
    assert claim_batch(run_id=run.pk, campaign_id=campaign.pk, owner=owner, limit=50) == []
    Recipient.objects.filter(campaign=campaign).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    second, rows = _claim_and_fail(run, owner, server_error, batch_number=2)
    assert all(r.attempts == 2 for r in rows)
    assert all(2 * base * 0.8 - 0.1 <= w <= 2 * base * 1.2 + 0.1 for w in second)

    Recipient.objects.filter(campaign=campaign).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    throttled = SendResult(
        outcome=Outcome.RETRY_LATER, http_status=400, error_code=130429, slow_down=True
    )
    third, rows = _claim_and_fail(run, owner, throttled, batch_number=3)
    slow = errors.SLOW_DOWN_BACKOFF_BASE_SECONDS * 4
    assert all(slow * 0.8 - 0.1 <= w <= slow * 1.2 + 0.1 for w in third)
    run.refresh_from_db()
    assert run.retried_count == 60
    campaign.refresh_from_db()
    assert (campaign.pending_count, campaign.sending_count) == (20, 0)
