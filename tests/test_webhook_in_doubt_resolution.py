"""An unknown wamid to the number of an in-doubt recipient resolves it: it was sent after all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from campaigns import stats
from campaigns.models import AuditLog, Recipient, UnmatchedStatus
from campaigns.webhooks import on_batch_recorded
from tests.factories import add_recipients, make_campaign
from tests.webhook_payloads import OTHER_PHONE_NUMBER_ID, payload, post_signed, status, wa_id

pytestmark = pytest.mark.django_db


def in_doubt_recipient(*, start: int = 0, campaign=None) -> Recipient:  # type: ignore[no-untyped-def]
    campaign = campaign or make_campaign()
    (recipient,) = add_recipients(campaign, 1, status=Recipient.Status.IN_DOUBT, start=start)
    Recipient.objects.filter(pk=recipient.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=1)
    )
    recipient.refresh_from_db()
    return recipient


def now_ts(offset: int = 0) -> int:
    return int(timezone.now().timestamp()) + offset


def test_a_status_to_an_in_doubt_recipients_number_resolves_it_and_is_audited_as_the_system() -> (
    None
):
    recipient = in_doubt_recipient()

    post_signed(
        Client(),
        payload(
            [
                status("wamid.FOUND", "sent", recipient_id=wa_id(recipient), timestamp=now_ts()),
                status(
                    "wamid.FOUND", "delivered", recipient_id=wa_id(recipient), timestamp=now_ts(1)
                ),
            ]
        ),
    )

    recipient.refresh_from_db()
    assert (recipient.status, recipient.wamid) == (Recipient.Status.DELIVERED, "wamid.FOUND")
    assert recipient.sent_at is not None and recipient.delivered_at is not None
    campaign = recipient.campaign
    campaign.refresh_from_db()
    assert (campaign.in_doubt_count, campaign.delivered_count) == (0, 1)
    assert stats.recount(campaign.pk)["delivered"] == 1
    entry = AuditLog.objects.get(action="recipients.resolve_in_doubt")
    assert (entry.actor_id, entry.actor_username) == (None, "")
    assert entry.object_id == str(campaign.pk)
    assert entry.details["via"] == "webhook"
    assert entry.details["recipients"] == {recipient.phone_number: "delivered"}
    assert set(UnmatchedStatus.objects.values_list("recipient_id", flat=True)) == {recipient.pk}


def test_later_statuses_then_match_the_resolved_recipient_by_wamid() -> None:
    recipient = in_doubt_recipient()
    client = Client()
    post_signed(
        client,
        payload([status("wamid.FOUND", "sent", recipient_id=wa_id(recipient), timestamp=now_ts())]),
    )

    post_signed(
        client,
        payload(
            [status("wamid.FOUND", "read", recipient_id=wa_id(recipient), timestamp=now_ts(5))]
        ),
    )

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.READ
    assert AuditLog.objects.filter(action="recipients.resolve_in_doubt").count() == 1


def test_a_failed_status_resolves_the_in_doubt_recipient_as_failed() -> None:
    recipient = in_doubt_recipient()

    post_signed(
        Client(),
        payload(
            [
                status(
                    "wamid.F",
                    "failed",
                    recipient_id=wa_id(recipient),
                    timestamp=now_ts(),
                    code=131049,
                    title="t",
                )
            ]
        ),
    )

    recipient.refresh_from_db()
    assert (recipient.status, recipient.error_code) == (Recipient.Status.FAILED, 131049)
    recipient.campaign.refresh_from_db()
    assert (recipient.campaign.failed_count, recipient.campaign.in_doubt_count) == (1, 0)


def test_a_status_from_another_sender_number_does_not_resolve_it() -> None:
    recipient = in_doubt_recipient()

    post_signed(
        Client(),
        payload(
            [status("wamid.OTHER", "delivered", recipient_id=wa_id(recipient), timestamp=now_ts())],
            phone_number_id=OTHER_PHONE_NUMBER_ID,
        ),
    )

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.IN_DOUBT
    assert UnmatchedStatus.objects.filter(recipient_id__isnull=True).count() == 1


def test_a_status_older_than_the_claim_is_about_another_message() -> None:
    recipient = in_doubt_recipient()

    post_signed(
        Client(),
        payload(
            [
                status(
                    "wamid.OLD", "delivered", recipient_id=wa_id(recipient), timestamp=now_ts(-3600)
                )
            ]
        ),
    )

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.IN_DOUBT


def test_two_in_doubt_recipients_with_the_number_are_left_to_the_operator() -> None:
    first = in_doubt_recipient()
    in_doubt_recipient(campaign=make_campaign(name="Other"))

    post_signed(
        Client(),
        payload([status("wamid.AMB", "delivered", recipient_id=wa_id(first), timestamp=now_ts())]),
    )

    assert Recipient.objects.filter(status=Recipient.Status.IN_DOUBT).count() == 2
    assert not AuditLog.objects.filter(action="recipients.resolve_in_doubt").exists()


def test_two_unknown_messages_to_the_number_are_left_to_the_operator() -> None:
    recipient = in_doubt_recipient()

    post_signed(
        Client(),
        payload(
            [
                status("wamid.ONE", "delivered", recipient_id=wa_id(recipient), timestamp=now_ts()),
                status("wamid.TWO", "delivered", recipient_id=wa_id(recipient), timestamp=now_ts()),
            ]
        ),
    )

    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.IN_DOUBT


def test_a_status_that_arrived_while_the_message_was_still_sending_resolves_it_once_in_doubt() -> (
    None
):
    campaign = make_campaign()
    (recipient,) = add_recipients(campaign, 1, status=Recipient.Status.SENDING)
    Recipient.objects.filter(pk=recipient.pk).update(claimed_at=timezone.now())
    post_signed(
        Client(),
        payload(
            [status("wamid.SLOW", "delivered", recipient_id=wa_id(recipient), timestamp=now_ts())]
        ),
    )
    recipient.refresh_from_db()
    assert recipient.status == Recipient.Status.SENDING

    # The engine's read timed out: it records the message in doubt (recording.record_batch).
    with transaction.atomic():
        Recipient.objects.filter(pk=recipient.pk).update(status=Recipient.Status.IN_DOUBT)
        stats.move(campaign.pk, from_status="sending", to_status="in_doubt", count=1)
        on_batch_recorded(
            campaign_id=campaign.pk, sent_wamids=[], in_doubt_ids=[recipient.pk], opted_out=[]
        )

    recipient.refresh_from_db()
    assert (recipient.status, recipient.wamid) == (Recipient.Status.DELIVERED, "wamid.SLOW")
    campaign.refresh_from_db()
    assert (campaign.in_doubt_count, campaign.delivered_count, campaign.sending_count) == (0, 1, 0)
