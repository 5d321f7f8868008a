"""131056 (pair rate limit) retries that one recipient later without holding up the others."""

from __future__ import annotations

import pytest

from campaigns.models import BatchRun, BatchRunLog, Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.runs import start_run
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pair_rate_limited_recipient_is_retried_later_while_the_others_go_on(
    sandbox, whatsapp
) -> None:
    campaign = make_campaign()
    recipients = add_recipients(campaign, 6)
    limited = recipients[0]
    sandbox.state.set_script(
        parse_script(
            {"numbers": {limited.phone_number: [{"kind": "error", "code": 131056, "times": 1}]}}
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
    delays: list[float | None] = []

    result = drive(
        run_id=run.pk,
        client=whatsapp,
        on_batch=lambda r: delays.append(r.current_delay_seconds),
    )

    assert result == DriveResult.FINISHED
    # The first batch sent the others with it; the limited one came back in a later batch.
    first = BatchRunLog.objects.get(run=run, batch_number=1, batch_seconds__isnull=False)
    assert (first.batch_sent, first.batch_failed) == (2, 0)
    assert "1 to retry" in first.message
    assert BatchRunLog.objects.filter(run=run, batch_number=1, message__contains="131056").exists()
    accepted = sandbox.state.accepted()
    order = [message["to"] for message in accepted]
    assert order.index(limited.phone_number) > order.index(recipients[1].phone_number)
    assert order.index(limited.phone_number) > order.index(recipients[2].phone_number)
    assert sorted(order) == sorted(r.phone_number for r in recipients)

    limited.refresh_from_db()
    assert (limited.status, limited.attempts) == (Recipient.Status.SENT, 2)
    assert set(Recipient.objects.exclude(pk=limited.pk).values_list("status", "attempts")) == {
        (Recipient.Status.SENT, 1)
    }
    # A pair rate limit is about one user: the whole run is not slowed down.
    assert delays and set(delays) == {1.0}
    assert not BatchRunLog.objects.filter(run=run, message__startswith="Rate limit").exists()
    run.refresh_from_db()
    assert (run.status, run.sent_count, run.retried_count, run.failed_count) == (
        BatchRun.Status.COMPLETED,
        6,
        1,
        0,
    )
