"""Opt-out replies and error 131050 put the number on the suppression list, audited."""

from __future__ import annotations

import pytest
from django.test import Client

from campaigns.models import AuditLog, Suppression
from campaigns.suppression import opt_out_word
from tests.factories import make_campaign
from tests.webhook_payloads import (
    inbound_text,
    payload,
    post_signed,
    sent_recipients,
    status,
    wa_id,
)

pytestmark = pytest.mark.django_db

SENDER = "+6281277776666"


@pytest.mark.parametrize(
    "text", ["STOP", "stop", " Stop \n", "BERHENTI", "berhenti", "Unsubscribe", "UNSUBSCRIBE "]
)
def test_an_opt_out_word_puts_the_sender_on_the_suppression_list(text: str) -> None:
    response = post_signed(Client(), payload(messages=[inbound_text(SENDER, text)]))

    assert response.status_code == 200
    entry = Suppression.objects.get()
    assert (entry.phone_number, entry.reason, entry.source) == (
        SENDER,
        Suppression.Reason.OPT_OUT_WORD,
        Suppression.Source.WEBHOOK,
    )
    assert entry.detail == text.strip().upper()
    audit = AuditLog.objects.get(action="suppression.add")
    assert audit.actor_username == "" and audit.details["phone_number"] == SENDER


@pytest.mark.parametrize("text", ["please stop", "STOP!!", "stopped", "", "Terima kasih"])
def test_other_replies_suppress_nobody(text: str) -> None:
    post_signed(Client(), payload(messages=[inbound_text(SENDER, text)]))

    assert not Suppression.objects.exists()


def test_a_quick_reply_button_with_an_opt_out_word_counts() -> None:
    message = {
        "from": SENDER[1:],
        "id": "wamid.B",
        "timestamp": "1",
        "type": "button",
        "button": {"text": "Stop", "payload": "x"},
    }

    post_signed(Client(), payload(messages=[message]))

    assert Suppression.objects.filter(phone_number=SENDER).exists()


def test_opting_out_twice_keeps_one_entry_and_one_audit_row() -> None:
    client = Client()
    post_signed(client, payload(messages=[inbound_text(SENDER, "STOP")]))
    post_signed(client, payload(messages=[inbound_text(SENDER, "berhenti", wamid="wamid.IN2")]))

    assert Suppression.objects.count() == 1
    assert AuditLog.objects.filter(action="suppression.add").count() == 1


def test_a_sender_that_is_not_a_phone_number_is_ignored() -> None:
    message = inbound_text("+1", "STOP")
    message["from"] = "abc"

    assert post_signed(Client(), payload(messages=[message])).status_code == 200
    assert not Suppression.objects.exists()


def test_error_131050_in_a_status_suppresses_the_recipients_number() -> None:
    campaign = make_campaign()
    (recipient,) = sent_recipients(campaign, 1)

    post_signed(
        Client(),
        payload(
            [
                status(
                    recipient.wamid,
                    "failed",
                    recipient_id=wa_id(recipient),
                    code=131050,
                    title="Unable to deliver the message.",
                )
            ]
        ),
    )

    recipient.refresh_from_db()
    assert (recipient.status, recipient.error_code) == ("failed", 131050)
    entry = Suppression.objects.get()
    assert (entry.phone_number, entry.reason, entry.detail) == (
        recipient.phone_number,
        Suppression.Reason.MARKETING_OPT_OUT,
        recipient.wamid,
    )


def test_error_131050_for_an_unknown_wamid_still_suppresses_the_number() -> None:
    post_signed(
        Client(), payload([status("wamid.U", "failed", recipient_id="6281211112222", code=131050)])
    )

    assert Suppression.objects.filter(phone_number="+6281211112222").exists()


def test_opt_out_words_are_whole_trimmed_case_insensitive_messages() -> None:
    assert opt_out_word("  sToP ") == "STOP"
    assert opt_out_word("Berhenti") == "BERHENTI"
    assert opt_out_word("stop it") is None
