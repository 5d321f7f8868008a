"""The Cloud API client against Meta's real bodies, mocked at the HTTP edge with `responses`."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
from django.conf import settings

from campaigns.whatsapp.client import (
    SendResult,
    WhatsAppClient,
    WhatsAppConfigurationError,
    merge_parameters,
    parse_retry_after,
)
from campaigns.whatsapp.errors import Outcome

TOKEN = "EAAG-secret-token-123"
PHONE_NUMBER_ID = "106540352242922"
URL = f"https://graph.facebook.com/v23.0/{PHONE_NUMBER_ID}/messages"
TO = "+6281234567890"

SUCCESS = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": TO, "wa_id": "6281234567890"}],
    "messages": [
        {
            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBRkJENzExMTRFRjk2NTI1OTEA",
            "message_status": "accepted",
        }
    ],
}


def envelope(code: int, message: str, details: str = "", **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
    }
    error.update(extra)
    return {"error": error}


RATE_LIMIT = envelope(
    130429,
    "(#130429) Rate limit hit",
    "Cloud API message throughput has been reached.",
    error_subcode=2494055,
)
TOKEN_EXPIRED = {
    "error": {
        "message": "Error validating access token: Session has expired on Friday, 03-Oct-25.",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 463,
        "fbtrace_id": "AbCdEf123",
    }
}


@pytest.fixture
def client() -> WhatsAppClient:
    return WhatsAppClient(
        base_url="https://graph.facebook.com",
        api_version="v23.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token=TOKEN,
    )


def send(client: WhatsAppClient, to: str = TO) -> SendResult:
    return client.send_template(
        to=to,
        template_name="event_reminder",
        language="id",
        parameters=[("participant_name", "Budi"), ("location", "Jakarta")],
        named=False,
    )


def sent_body(index: int = 0) -> dict[str, Any]:
    body = responses.calls[index].request.body
    assert isinstance(body, bytes)
    return json.loads(body)


@responses.activate
def test_it_sends_positional_parameters_in_order(client: WhatsAppClient) -> None:
    responses.post(URL, json=SUCCESS)
    send(client)
    assert sent_body() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": "template",
        "template": {
            "name": "event_reminder",
            "language": {"code": "id"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Budi"},
                        {"type": "text", "text": "Jakarta"},
                    ],
                }
            ],
        },
    }


@responses.activate
def test_it_names_the_parameters_of_a_named_template(client: WhatsAppClient) -> None:
    responses.post(URL, json=SUCCESS)
    client.send_template(
        to=TO,
        template_name="event_reminder",
        language="id",
        parameters=[("participant_name", "Budi"), ("location", "Jakarta")],
        named=True,
    )
    parameters = sent_body()["template"]["components"][0]["parameters"]
    assert parameters == [
        {"type": "text", "parameter_name": "participant_name", "text": "Budi"},
        {"type": "text", "parameter_name": "location", "text": "Jakarta"},
    ]


@responses.activate
def test_a_template_without_parameters_has_no_components(client: WhatsAppClient) -> None:
    responses.post(URL, json=SUCCESS)
    client.send_template(
        to=TO, template_name="hello_world", language="en_US", parameters=[], named=False
    )
    assert sent_body()["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


@responses.activate
def test_it_sends_a_text_message(client: WhatsAppClient) -> None:
    responses.post(URL, json={**SUCCESS, "messages": [{"id": "wamid.TEXT"}]})
    result = client.send_text(to=TO, body="Halo Budi", preview_url=True)
    assert sent_body() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": "text",
        "text": {"preview_url": True, "body": "Halo Budi"},
    }
    assert result.is_sent
    assert result.message_status is None


@responses.activate
def test_it_authenticates_with_the_bearer_token(client: WhatsAppClient) -> None:
    responses.post(URL, json=SUCCESS)
    send(client)
    headers = responses.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"


@responses.activate
def test_it_reads_wamid_wa_id_and_message_status(client: WhatsAppClient) -> None:
    responses.post(URL, json=SUCCESS)
    result = send(client)
    assert result.outcome is Outcome.SENT
    assert result.wamid == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBRkJENzExMTRFRjk2NTI1OTEA"
    assert result.wa_id == "6281234567890"
    assert result.message_status == "accepted"
    assert result.http_status == 200
    assert result.backoff_seconds(failures=1) is None


@responses.activate
def test_it_keeps_a_wa_id_that_differs_from_the_number_sent(client: WhatsAppClient) -> None:
    brazil = {**SUCCESS, "contacts": [{"input": "+5511912345678", "wa_id": "551112345678"}]}
    responses.post(URL, json=brazil)
    assert send(client, to="+5511912345678").wa_id == "551112345678"


@responses.activate
def test_a_message_held_for_quality_assessment_is_sent(client: WhatsAppClient) -> None:
    held = {
        **SUCCESS,
        "messages": [{"id": "wamid.X", "message_status": "held_for_quality_assessment"}],
    }
    responses.post(URL, json=held)
    result = send(client)
    assert result.is_sent
    assert result.message_status == "held_for_quality_assessment"


@pytest.mark.parametrize(
    ("status", "body", "outcome", "slow_down"),
    [
        (400, RATE_LIMIT, Outcome.RETRY_LATER, True),
        (429, envelope(4, "(#4) Application request limit reached"), Outcome.RETRY_LATER, True),
        (400, envelope(80007, "(#80007) Rate limit issues"), Outcome.RETRY_LATER, True),
        (500, envelope(131000, "(#131000) Something went wrong"), Outcome.RETRY_LATER, False),
        (503, envelope(2, "Service temporarily unavailable"), Outcome.RETRY_LATER, False),
        (
            400,
            envelope(131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"),
            Outcome.RETRY_RECIPIENT_LATER,
            False,
        ),
        (400, envelope(131026, "(#131026) Message undeliverable"), Outcome.PERMANENT, False),
        (400, envelope(131047, "(#131047) Re-engagement message"), Outcome.PERMANENT, False),
        (401, TOKEN_EXPIRED, Outcome.FATAL, False),
        (403, envelope(10, "(#10) Permission denied"), Outcome.FATAL, False),
        (
            403,
            envelope(368, "(#368) Temporarily blocked for policies violations"),
            Outcome.FATAL,
            False,
        ),
        (
            404,
            envelope(132001, "(#132001) Template name does not exist in the translation"),
            Outcome.FATAL,
            False,
        ),
        (400, envelope(100, "(#100) Invalid parameter"), Outcome.FATAL, False),
    ],
)
@responses.activate
def test_meta_error_envelopes_are_classified_by_code(
    client: WhatsAppClient,
    status: int,
    body: dict[str, Any],
    outcome: Outcome,
    slow_down: bool,
) -> None:
    responses.post(URL, json=body, status=status)
    result = send(client)
    assert result.outcome is outcome
    assert result.slow_down is slow_down
    assert result.error_code == body["error"]["code"]
    assert result.http_status == status
    assert result.wamid is None


@responses.activate
def test_it_keeps_code_message_details_type_and_fbtrace_id(client: WhatsAppClient) -> None:
    responses.post(URL, json=RATE_LIMIT, status=400)
    result = send(client)
    assert result.error_code == 130429
    assert result.error_message == "(#130429) Rate limit hit"
    assert result.error_details == "Cloud API message throughput has been reached."
    assert result.error_type == "OAuthException"
    assert result.fbtrace_id == "Az8or2yhqkZfEZ-_4Qn_Bam"
    assert result.describe() == (
        "130429 HTTP 400 (#130429) Rate limit hit: Cloud API message throughput has been reached."
    )


@responses.activate
def test_an_expired_token_stops_the_run_with_a_hint(client: WhatsAppClient) -> None:
    responses.post(URL, json=TOKEN_EXPIRED, status=401)
    result = send(client)
    assert result.outcome is Outcome.FATAL
    assert result.hint == "access token expired (190) — check the WhatsApp API configuration"


@responses.activate
def test_an_opt_out_is_permanent_and_flagged(client: WhatsAppClient) -> None:
    responses.post(URL, json=envelope(131050, "(#131050) Unable to deliver the message."))
    result = send(client)
    assert result.outcome is Outcome.PERMANENT
    assert result.opt_out


@responses.activate
def test_the_marketing_limit_is_deferred_a_day(client: WhatsAppClient) -> None:
    responses.post(URL, json=envelope(131049, "(#131049) This message was not delivered."))
    result = send(client)
    assert result.outcome is Outcome.PERMANENT
    assert result.defer_hours == 24


@responses.activate
def test_a_code_sent_as_a_string_is_still_read(client: WhatsAppClient) -> None:
    body = envelope(131026, "(#131026) Message undeliverable")
    body["error"]["code"] = "131026"
    responses.post(URL, json=body, status=400)
    assert send(client).error_code == 131026


@responses.activate
def test_pair_rate_limit_suggests_powers_of_four(client: WhatsAppClient) -> None:
    responses.post(URL, json=envelope(131056, "(#131056) pair rate limit hit"), status=400)
    result = send(client)
    assert [result.backoff_seconds(failures=n) for n in (1, 2, 3)] == [1, 4, 16]


@responses.activate
def test_it_honours_a_retry_after_header_in_seconds(client: WhatsAppClient) -> None:
    responses.post(URL, json=RATE_LIMIT, status=429, headers={"Retry-After": "30"})
    result = send(client)
    assert result.retry_after_seconds == 30
    assert result.backoff_seconds(failures=1) == 30  # more than the 5 s it would suggest


@responses.activate
def test_a_short_retry_after_does_not_shorten_the_backoff(client: WhatsAppClient) -> None:
    responses.post(URL, json=RATE_LIMIT, status=429, headers={"Retry-After": "1"})
    assert send(client).backoff_seconds(failures=3) == 20


def test_it_reads_a_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now=now) == 90
    assert parse_retry_after("not a date", now=now) is None
    assert parse_retry_after(None) is None


@responses.activate
def test_a_502_html_page_is_retried_and_keeps_its_title(client: WhatsAppClient) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"
    responses.post(URL, body=page, status=502, content_type="text/html")
    result = send(client)
    assert result.outcome is Outcome.RETRY_LATER
    assert result.http_status == 502
    assert result.error_code is None
    assert result.error_details == "502 Bad Gateway"


@responses.activate
def test_an_empty_500_is_retried(client: WhatsAppClient) -> None:
    responses.post(URL, body=b"", status=500)
    assert send(client).outcome is Outcome.RETRY_LATER


@responses.activate
def test_a_bare_429_slows_the_sender_down(client: WhatsAppClient) -> None:
    responses.post(URL, body="Too Many Requests", status=429)
    result = send(client)
    assert result.outcome is Outcome.RETRY_LATER
    assert result.slow_down


@responses.activate
def test_a_404_without_an_envelope_stops_the_run(client: WhatsAppClient) -> None:
    responses.post(URL, body="Not Found", status=404)
    result = send(client)
    assert result.outcome is Outcome.FATAL
    assert result.error_details == "Not Found"
    assert "WHATSAPP_API_BASE_URL" in result.hint


@responses.activate
def test_it_does_not_follow_redirects(client: WhatsAppClient) -> None:
    responses.post(URL, status=302, headers={"Location": "https://example.com/login"})
    result = send(client)
    assert result.outcome is Outcome.FATAL
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"OK",
        b"{}",
        json.dumps({"messaging_product": "whatsapp", "messages": []}).encode(),
        json.dumps({"messages": [{"id": ""}]}).encode(),
    ],
)
@responses.activate
def test_a_200_without_a_message_id_is_in_doubt_not_sent(
    client: WhatsAppClient, body: bytes
) -> None:
    responses.post(URL, body=body, status=200)
    result = send(client)
    assert result.outcome is Outcome.UNKNOWN
    assert result.possibly_accepted
    assert result.backoff_seconds(failures=1) is None


@responses.activate
def test_a_connect_timeout_is_retried_and_cannot_have_been_accepted(
    client: WhatsAppClient,
) -> None:
    responses.post(URL, body=requests.exceptions.ConnectTimeout("connect timed out"))
    result = send(client)
    assert result.outcome is Outcome.RETRY_LATER
    assert not result.possibly_accepted
    assert result.error_type == "ConnectTimeout"
    assert "timed out connecting" in result.error_message


@responses.activate
def test_a_read_timeout_is_retried_but_may_have_been_accepted(client: WhatsAppClient) -> None:
    responses.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    result = send(client)
    assert result.outcome is Outcome.RETRY_LATER
    assert result.possibly_accepted
    assert result.http_status is None
    assert "no answer" in result.error_message


@responses.activate
def test_a_reset_connection_is_retried_but_may_have_been_accepted(
    client: WhatsAppClient,
) -> None:
    reset = requests.exceptions.ConnectionError(
        ConnectionResetError(104, "Connection reset by peer")
    )
    responses.post(URL, body=reset)
    result = send(client)
    assert result.outcome is Outcome.RETRY_LATER
    assert result.possibly_accepted
    assert "Connection reset by peer" in result.error_details


def test_a_refused_connection_is_retried_and_cannot_have_been_accepted() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: a real refused connection.
    client = WhatsAppClient(base_url=f"http://127.0.0.1:{port}", access_token=TOKEN)
    result = send(client)
    assert result.outcome is Outcome.RETRY_LATER
    assert not result.possibly_accepted
    assert result.error_type == "ConnectionError"


@responses.activate
def test_the_token_never_appears_in_a_result_or_the_client_repr(client: WhatsAppClient) -> None:
    leak = requests.exceptions.ConnectionError(f"proxy said: bad header Bearer {TOKEN}")
    responses.post(URL, body=leak)
    result = send(client)
    assert TOKEN not in repr(result)
    assert TOKEN not in result.describe()
    assert "[redacted]" in result.error_details
    assert TOKEN not in repr(client)


def test_an_invalid_url_stops_the_run() -> None:
    client = WhatsAppClient(base_url="http://", access_token=TOKEN)
    result = send(client)
    assert result.outcome is Outcome.FATAL
    assert "WHATSAPP_API_BASE_URL" in result.hint
    assert TOKEN not in repr(result)


@pytest.mark.parametrize("to", ["6281234567890", "081234567890", "+62 812 3456", "+0812345678"])
@responses.activate
def test_it_refuses_a_number_that_is_not_e164_without_calling_the_api(
    client: WhatsAppClient, to: str
) -> None:
    result = send(client, to=to)
    assert result.outcome is Outcome.PERMANENT
    assert result.error_type == "invalid_request"
    assert len(responses.calls) == 0


@responses.activate
def test_an_empty_parameter_fails_only_this_recipient_without_calling_the_api(
    client: WhatsAppClient,
) -> None:
    result = client.send_template(
        to=TO, template_name="event_reminder", language="id", parameters=[("x", " ")], named=False
    )
    assert result.outcome is Outcome.PERMANENT
    assert "“x”" in result.hint
    assert len(responses.calls) == 0


@responses.activate
def test_a_campaign_without_a_template_name_stops_the_run(client: WhatsAppClient) -> None:
    result = client.send_template(
        to=TO, template_name="", language="id", parameters=[], named=False
    )
    assert result.outcome is Outcome.FATAL
    assert len(responses.calls) == 0


@pytest.mark.parametrize("body", ["", "   ", "x" * 4097])
@responses.activate
def test_a_text_must_have_1_to_4096_characters(client: WhatsAppClient, body: str) -> None:
    assert client.send_text(to=TO, body=body).outcome is Outcome.PERMANENT
    assert len(responses.calls) == 0


def test_it_is_configured_from_settings_by_default() -> None:
    client = WhatsAppClient()
    assert client.messages_url == (
        f"{settings.WHATSAPP_API_BASE_URL}/{settings.WHATSAPP_API_VERSION}/"
        f"{settings.WHATSAPP_PHONE_NUMBER_ID}/messages"
    )
    assert client.timeout == (
        settings.WHATSAPP_CONNECT_TIMEOUT_SECONDS,
        settings.WHATSAPP_READ_TIMEOUT_SECONDS,
    )


def test_it_refuses_to_start_without_a_token() -> None:
    with pytest.raises(WhatsAppConfigurationError, match="WHATSAPP_ACCESS_TOKEN"):
        WhatsAppClient(access_token="")


def test_it_refuses_to_start_without_a_phone_number_id() -> None:
    with pytest.raises(WhatsAppConfigurationError, match="WHATSAPP_PHONE_NUMBER_ID"):
        WhatsAppClient(phone_number_id="")


def test_recipient_variables_override_campaign_defaults_by_name() -> None:
    defaults = [
        {"name": "participant_name", "value": "Peserta"},
        {"name": "location", "value": "Jakarta"},
    ]
    assert merge_parameters(defaults, {"location": "Bandung", "city": "ignored"}) == [
        ("participant_name", "Peserta"),
        ("location", "Bandung"),
    ]


def test_a_blank_recipient_variable_keeps_the_default() -> None:
    defaults = [{"name": "participant_name", "value": "Peserta"}]
    assert merge_parameters(defaults, {"participant_name": "  "}) == [
        ("participant_name", "Peserta")
    ]
    assert merge_parameters(defaults, {"participant_name": None}) == [
        ("participant_name", "Peserta")
    ]


def test_parameter_values_become_text() -> None:
    defaults = [{"name": "seat", "value": 12}, {"name": "note"}]
    assert merge_parameters(defaults, {"note": 3.5}) == [("seat", "12"), ("note", "3.5")]
    assert merge_parameters(defaults, None) == [("seat", "12"), ("note", "")]


@pytest.mark.parametrize("defaults", [[{"value": "x"}], [{"name": ""}], ["participant_name"]])
def test_a_default_parameter_without_a_name_is_refused(defaults: list[Any]) -> None:
    with pytest.raises(ValueError, match="Template parameter 1 has no name"):
        merge_parameters(defaults, {})


@pytest.mark.parametrize("token", ["abc def", "abc\n", "abc\x00"])
def test_a_token_with_spaces_or_control_characters_is_refused_without_echoing_it(
    token: str,
) -> None:
    with pytest.raises(WhatsAppConfigurationError) as excinfo:
        WhatsAppClient(access_token=token)
    assert token not in str(excinfo.value)


@responses.activate
def test_a_garbled_answer_body_is_retried_but_may_have_been_accepted(
    client: WhatsAppClient,
) -> None:
    responses.post(URL, body=requests.exceptions.ContentDecodingError("bad gzip"))
    result = send(client)
    assert result.outcome is Outcome.RETRY_LATER
    assert result.possibly_accepted
