"""Meta's GET subscription check: the challenge comes back only for the right verify token."""

from __future__ import annotations

import pytest
from django.test import Client

URL = "/webhooks/whatsapp/"


def test_the_right_verify_token_gets_the_raw_challenge_as_text() -> None:
    response = Client().get(
        URL,
        {
            "hub.mode": "subscribe",
            "hub.challenge": "1158201444",
            "hub.verify_token": "test-verify-token",
        },
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "wrong"},
        {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": ""},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": "test-verify-token"},
        {"hub.challenge": "1", "hub.verify_token": "test-verify-token"},
        {"hub.mode": "subscribe", "hub.verify_token": "test-verify-token"},
        {},
    ],
    ids=[
        "wrong-token",
        "empty-token",
        "no-token",
        "wrong-mode",
        "no-mode",
        "no-challenge",
        "nothing",
    ],
)
def test_anything_but_a_subscribe_with_the_right_token_gets_403(query: dict[str, str]) -> None:
    response = Client().get(URL, query)

    assert response.status_code == 403
    assert b"1" not in response.content


def test_without_a_configured_verify_token_verification_always_fails(settings) -> None:  # type: ignore[no-untyped-def]
    settings.WHATSAPP_WEBHOOK_VERIFY_TOKEN = ""

    response = Client().get(
        URL, {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": ""}
    )

    assert response.status_code == 403


def test_the_endpoint_needs_no_login_and_no_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.get(
        URL,
        {"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": "test-verify-token"},
    )

    assert response.status_code == 200


@pytest.mark.django_db
def test_a_post_is_not_refused_for_want_of_a_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(URL, data=b"{}", content_type="application/json")

    # Refused for its missing signature, not by the CSRF middleware (which answers 403 too).
    assert response.status_code == 403
    assert b"CSRF" not in response.content


def test_other_methods_are_not_allowed() -> None:
    assert Client().put(URL).status_code == 405
