"""Whatever arrives — signed or not, JSON or not, payload-shaped or not — it is never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import stats
from campaigns.models import Campaign
from tests.factories import make_campaign
from tests.webhook_payloads import (
    PHONE_NUMBER_ID,
    encode,
    post_signed,
    post_unsigned,
    sent_recipients,
)

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text with what breaks naive code: NUL, lone surrogates, long strings, digits.
nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=20),
    st.sampled_from(["\x00", "\ud800", "STOP", " stop ", "BERHENTI", "", "9" * 40, "w" * 300]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(nasty_text, children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture
def campaign() -> Campaign:
    campaign = make_campaign()
    sent_recipients(campaign, 3)
    return campaign


def wamids() -> st.SearchStrategy[Any]:
    known = [f"wamid.T62812{i:08d}" for i in range(3)]
    return st.one_of(st.sampled_from(known), scalars)


statuses = st.fixed_dictionaries(
    {
        "id": wamids(),
        "status": st.one_of(
            st.sampled_from(["sent", "delivered", "read", "failed", "played"]), scalars
        ),
    },
    optional={
        "timestamp": st.one_of(scalars, st.integers(min_value=0, max_value=2**40).map(str)),
        "recipient_id": st.one_of(scalars, st.sampled_from(["6281200000000", "6281200000001"])),
        "recipient_user_id": scalars,
        "errors": st.one_of(
            json_values,
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "code": st.one_of(scalars, st.sampled_from([131050, "131050", 131049])),
                        "title": scalars,
                        "message": scalars,
                        "error_data": st.one_of(
                            json_values, st.fixed_dictionaries({"details": scalars})
                        ),
                    },
                ),
                max_size=2,
            ),
        ),
    },
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "from": st.one_of(scalars, st.sampled_from(["6281277776666", "+6281277776666"])),
        "id": scalars,
        "type": scalars,
        "text": st.one_of(json_values, st.fixed_dictionaries({"body": nasty_text})),
        "button": json_values,
        "interactive": json_values,
    },
)
payload_shaped = st.fixed_dictionaries(
    {
        "object": st.one_of(st.just("whatsapp_business_account"), scalars),
        "entry": st.lists(
            st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {
                        "id": scalars,
                        "changes": st.lists(
                            st.one_of(
                                json_values,
                                st.fixed_dictionaries(
                                    {
                                        "field": st.one_of(st.just("messages"), scalars),
                                        "value": st.fixed_dictionaries(
                                            {
                                                "metadata": st.one_of(
                                                    json_values,
                                                    st.just({"phone_number_id": PHONE_NUMBER_ID}),
                                                ),
                                                "statuses": st.one_of(
                                                    json_values, st.lists(statuses, max_size=5)
                                                ),
                                                "messages": st.one_of(
                                                    json_values, st.lists(messages, max_size=3)
                                                ),
                                            }
                                        ),
                                    }
                                ),
                            ),
                            max_size=3,
                        ),
                    }
                ),
            ),
            max_size=3,
        ),
    }
)


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


@FUZZ
@given(body=st.binary(max_size=2000))
def test_signed_random_bytes_get_200_or_400(campaign: Campaign, body: bytes) -> None:
    assert post_signed(Client(), body).status_code in (200, 400)


@FUZZ
@given(value=json_values)
def test_signed_random_json_gets_200_or_400(campaign: Campaign, value: Any) -> None:
    assert post_signed(Client(), dumps(value)).status_code in (200, 400)


@FUZZ
@given(value=payload_shaped)
def test_signed_payload_shaped_bodies_are_processed_and_keep_the_counters_right(
    campaign: Campaign, value: Any
) -> None:
    response = post_signed(Client(), dumps(value))

    assert response.status_code == 200
    campaign.refresh_from_db()
    counters = {s: getattr(campaign, f) for s, f in stats.COUNTER_FIELDS.items()}
    assert stats.recount(campaign.pk) == counters


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=500), payload_shaped.map(dumps)),
    signature=st.one_of(st.none(), nasty_text),
)
def test_unsigned_or_wrongly_signed_bodies_get_403(
    campaign: Campaign, body: bytes, signature: str | None
) -> None:
    headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}

    assert post_unsigned(Client(), body, **headers).status_code == 403


def test_a_payload_shaped_example_is_really_processed(campaign: Campaign) -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": 1,
                "changes": [
                    {
                        "field": "messages",
                        "value": {"statuses": [{"id": "wamid.T6281200000000", "status": "read"}]},
                    }
                ],
            }
        ],
    }

    assert post_signed(Client(), encode(body)).status_code == 200
    campaign.refresh_from_db()
    assert campaign.read_count == 1
