"""A message that may have reached WhatsApp becomes in doubt and is never resent automatically."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from campaigns.models import BatchRun, BatchRunLog, Campaign, Recipient
from campaigns.sending.driver import DriveResult, drive
from campaigns.sending.exceptions import NoPendingRecipients
from campaigns.sending.runs import start_run
from campaigns.whatsapp.client import WhatsAppClient
from campaigns.whatsapp.sandbox_script import parse_script
from tests.factories import add_recipients, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def impatient(sandbox) -> Iterator[WhatsAppClient]:  # type: ignore[no-untyped-def]
    """A client that gives up waiting for an answer after half a second."""
    client = WhatsAppClient(base_url=sandbox.url, connect_timeout=2, read_timeout=0.5)
    yield client
    client.close()


def start(campaign: Campaign) -> BatchRun:
    return start_run(
        campaign_id=campaign.pk,
        actor=None,
        batch_size=5,
        delay_seconds=1,
        max_retries=3,
        enqueue=False,
    )


@pytest.mark.parametrize(
    ("fault", "reached_sandbox"),
    [
        ({"kind": "timeout", "seconds": 5, "accept": True}, True),
        ({"kind": "drop", "accept": True}, True),
        # HTTP 200 without a message id: WhatsApp may or may not have accepted it.
        ({"kind": "http", "http_status": 200, "body": "empty"}, False),
    ],
    ids=["timeout-after-accepting", "dropped-after-accepting", "2xx-without-wamid"],
)
def test_an_answer_that_may_hide_an_accepted_message_leaves_the_recipient_in_doubt(
    sandbox, impatient, fault: dict[str, object], reached_sandbox: bool
) -> None:
    campaign = make_campaign()
    doubtful, fine = add_recipients(campaign, 2)
    sandbox.state.set_script(parse_script({"numbers": {doubtful.phone_number: fault}}))
    run = start(campaign)

    assert drive(run_id=run.pk, client=impatient) == DriveResult.FINISHED

    doubtful.refresh_from_db()
    assert doubtful.status == Recipient.Status.IN_DOUBT
    assert doubtful.attempts == 1
    assert doubtful.next_attempt_at is None and doubtful.wamid is None
    assert doubtful.error_message
    counts = sandbox.state.accepted_counts()["counts"]
    assert counts.get(doubtful.phone_number, 0) == (1 if reached_sandbox else 0)
    assert counts[fine.phone_number] == 1
    run.refresh_from_db()
    assert (run.status, run.in_doubt_count, run.sent_count, run.retried_count) == (
        BatchRun.Status.COMPLETED,
        1,
        1,
        0,
    )
    campaign.refresh_from_db()
    assert (campaign.in_doubt_count, campaign.sent_count, campaign.pending_count) == (1, 1, 0)
    assert BatchRunLog.objects.filter(
        run=run, level=BatchRunLog.Level.WARNING, message__startswith="In doubt"
    ).exists()


def test_a_later_run_never_resends_an_in_doubt_recipient(sandbox, whatsapp) -> None:
    campaign = make_campaign()
    (doubtful,) = add_recipients(campaign, 1)
    sandbox.state.set_script(
        parse_script({"numbers": {doubtful.phone_number: {"kind": "drop", "accept": True}}})
    )
    drive(run_id=start(campaign).pk, client=whatsapp)
    doubtful.refresh_from_db()
    assert doubtful.status == Recipient.Status.IN_DOUBT

    # Nothing else to send: in doubt does not count as pending.
    with pytest.raises(NoPendingRecipients):
        start(campaign)
    (newcomer,) = add_recipients(campaign, 1, start=50)
    second = start(campaign)
    assert second.total_count == 1
    drive(run_id=second.pk, client=whatsapp)

    assert sandbox.state.accepted_counts()["counts"] == {
        doubtful.phone_number: 1,
        newcomer.phone_number: 1,
    }
    doubtful.refresh_from_db()
    assert (doubtful.status, doubtful.attempts) == (Recipient.Status.IN_DOUBT, 1)
