"""The sandbox's rules without HTTP: checks, scripts, throughput cap and the records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from campaigns.whatsapp.sandbox import (
    Reply,
    SandboxConfig,
    SandboxState,
    SlidingWindowLimiter,
)
from campaigns.whatsapp.sandbox_meta import http_status_for
from campaigns.whatsapp.sandbox_script import ScriptError, parse_script

TOKEN = "sandbox-token"
PHONE_NUMBER_ID = "106540352242922"
PATH = f"/v23.0/{PHONE_NUMBER_ID}/messages"
AUTH = f"Bearer {TOKEN}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def message(to: str = "+6281234567890", **template: Any) -> bytes:
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
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
            **template,
        },
    }
    return json.dumps(body).encode()


def make_state(
    *, script: dict[str, Any] | None = None, throughput: int = 0, clock: FakeClock | None = None
) -> SandboxState:
    config = SandboxConfig(
        access_token=TOKEN,
        phone_number_ids=(PHONE_NUMBER_ID,),
        throughput_per_second=throughput,
        script=parse_script(script or {}),
        seed=1,
    )
    clock = clock or FakeClock()
    return SandboxState(config, clock=clock, wall_clock=clock)


def post(state: SandboxState, body: bytes | None = None, *, auth: str | None = AUTH) -> Reply:
    return state.handle_message(path=PATH, authorization=auth, body=body or message())


def code_of(reply: Reply) -> int | None:
    data = json.loads(reply.body)
    return data["error"]["code"] if "error" in data else None


def test_a_valid_template_gets_metas_success_body() -> None:
    reply = post(make_state())
    data = json.loads(reply.body)
    assert reply.status == 200
    assert data["contacts"] == [{"input": "+6281234567890", "wa_id": "6281234567890"}]
    assert data["messages"][0]["id"].startswith("wamid.")
    assert data["messages"][0]["message_status"] == "accepted"


def test_every_accepted_message_gets_a_fresh_wamid() -> None:
    state = make_state()
    ids = {json.loads(post(state).body)["messages"][0]["id"] for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize("auth", [None, "", "Bearer wrong", TOKEN, f"Bearer {TOKEN}x"])
def test_a_wrong_or_missing_token_is_190_with_401(auth: str | None) -> None:
    reply = post(make_state(), auth=auth)
    assert (reply.status, code_of(reply)) == (401, 190)


def test_an_unknown_phone_number_id_is_100() -> None:
    state = make_state()
    reply = state.handle_message(path="/v23.0/999/messages", authorization=AUTH, body=message())
    assert (reply.status, code_of(reply)) == (400, 100)


@pytest.mark.parametrize("path", ["/v23/106540352242922/messages", "/v23.0/messages", "/"])
def test_an_unknown_path_is_100(path: str) -> None:
    reply = make_state().handle_message(path=path, authorization=AUTH, body=message())
    assert (reply.status, code_of(reply)) == (400, 100)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", 100),
        (b"[]", 100),
        (json.dumps({"to": "+6281234567890", "type": "text"}).encode(), 100),
        (message(to="6281234567890"), 100),
        (message(to="+62 812"), 100),
        (json.dumps({"messaging_product": "whatsapp", "to": "+6281234567890"}).encode(), 100),
        (message(name=""), 131008),
        (message(language={}), 131008),
        (message(components=[{"type": "body", "parameters": [{"type": "text"}]}]), 131008),
        (
            message(components=[{"type": "body", "parameters": [{"type": "text", "text": ""}]}]),
            131008,
        ),
        (message(components=[{"type": "footer"}]), 131009),
        (message(components="body"), 131009),
        (
            message(
                components=[
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "a", "parameter_name": "first"},
                            {"type": "text", "text": "b"},
                        ],
                    }
                ]
            ),
            132012,
        ),
    ],
)
def test_malformed_bodies_get_metas_error_codes(body: bytes, code: int) -> None:
    reply = post(make_state(), body)
    assert code_of(reply) == code
    assert reply.status == 400


def test_a_text_message_is_accepted_without_message_status() -> None:
    body = {
        "messaging_product": "whatsapp",
        "to": "+6281234567890",
        "type": "text",
        "text": {"body": "Halo"},
    }
    data = json.loads(post(make_state(), json.dumps(body).encode()).body)
    assert "message_status" not in data["messages"][0]


def test_configured_templates_are_checked_for_name_language_and_parameter_count() -> None:
    templates = {"event_reminder": {"languages": ["id"], "parameter_count": 2}}
    state = make_state(script={"templates": templates})
    assert post(state).status == 200
    unknown = post(state, message(name="other"))
    assert (unknown.status, code_of(unknown)) == (404, 132001)
    wrong_language = post(state, message(language={"code": "en"}))
    assert code_of(wrong_language) == 132001
    one_parameter = message(
        components=[{"type": "body", "parameters": [{"type": "text", "text": "Budi"}]}]
    )
    assert code_of(post(state, one_parameter)) == 132000


def test_a_number_scripted_with_a_code_always_answers_it() -> None:
    state = make_state(script={"numbers": {"+6281100000001": "131026"}})
    for _ in range(3):
        assert code_of(post(state, message(to="+6281100000001"))) == 131026
    assert post(state).status == 200
    assert state.accepted_counts()["counts"] == {"+6281234567890": 1}


def test_a_sequence_with_times_is_followed_then_the_number_succeeds() -> None:
    steps = [{"kind": "error", "code": 130429, "times": 2}]
    state = make_state(script={"numbers": {"+6281100000002": steps}})
    replies = [post(state, message(to="+6281100000002")) for _ in range(3)]
    assert [code_of(reply) for reply in replies] == [130429, 130429, None]
    assert replies[2].status == 200


def test_ok_steps_let_messages_through_before_a_fault() -> None:
    state = make_state(
        script={"numbers": {"+6281100000006": [{"kind": "ok", "times": 1}, "131050"]}}
    )
    codes = [code_of(post(state, message(to="+6281100000006"))) for _ in range(3)]
    assert codes == [None, 131050, 131050]


def test_the_all_switch_answers_190_to_everything() -> None:
    state = make_state(script={"all": "190"})
    reply = post(state)
    assert (reply.status, code_of(reply)) == (401, 190)
    assert state.stats()["accepted_total"] == 0


@pytest.mark.parametrize(
    ("step", "status", "content_type", "code"),
    [
        ("500", 500, "application/json", 1),
        ("503", 503, "application/json", 2),
        ("502", 502, "text/html", None),
        ({"kind": "http", "http_status": 500, "body": "empty"}, 500, "text/plain", None),
    ],
)
def test_http_faults_answer_with_the_status_and_body_asked_for(
    step: Any, status: int, content_type: str, code: int | None
) -> None:
    reply = post(make_state(script={"numbers": {"+6281234567890": step}}))
    assert (reply.status, reply.content_type) == (status, content_type)
    if code is not None:
        assert code_of(reply) == code


def test_a_timeout_holds_the_connection_without_accepting() -> None:
    state = make_state(script={"numbers": {"+6281234567890": {"kind": "timeout", "seconds": 7}}})
    reply = post(state)
    assert (reply.action, reply.hang_seconds) == ("hang", 7)
    assert state.accepted_counts()["total"] == 0


def test_a_drop_that_accepts_first_is_counted_as_accepted() -> None:
    state = make_state(script={"numbers": {"+6281234567890": {"kind": "drop", "accept": True}}})
    assert post(state).action == "drop"
    assert state.accepted_counts()["counts"] == {"+6281234567890": 1}


def test_random_faults_hit_the_configured_share() -> None:
    state = make_state(script={"random": {"rate": 0.3, "faults": ["131000"]}})
    codes = [code_of(post(state, message(to=f"+62812000{i:05d}"))) for i in range(1000)]
    assert 230 <= codes.count(131000) <= 370
    assert codes.count(None) == 1000 - codes.count(131000)


def test_the_throughput_cap_answers_130429_above_it_and_recovers() -> None:
    clock = FakeClock()
    state = make_state(throughput=80, clock=clock)
    replies = [post(state, message(to=f"+62812000{i:05d}")) for i in range(100)]
    assert sum(reply.status == 200 for reply in replies) == 80
    assert {code_of(reply) for reply in replies[80:]} == {130429}
    assert all(reply.status == 400 for reply in replies[80:])
    clock.now += 1.0
    assert post(state).status == 200


def test_the_cap_is_per_phone_number_id() -> None:
    config = SandboxConfig(
        access_token=TOKEN, phone_number_ids=(PHONE_NUMBER_ID, "222"), throughput_per_second=1
    )
    clock = FakeClock()
    state = SandboxState(config, clock=clock, wall_clock=clock)
    assert post(state).status == 200
    assert post(state).status == 400
    other = state.handle_message(path="/v23.0/222/messages", authorization=AUTH, body=message())
    assert other.status == 200


def test_the_sliding_window_allows_the_limit_in_any_second() -> None:
    limiter = SlidingWindowLimiter(limit=3)
    assert [limiter.allow(t) for t in (0.0, 0.1, 0.2, 0.5)] == [True, True, True, False]
    assert limiter.allow(1.0) is True  # the hit at 0.0 left the window
    assert limiter.allow(1.05) is False


def test_accepted_counts_show_duplicates() -> None:
    state = make_state()
    for to in ["+6281200000001", "+6281200000001", "+6281200000002"]:
        post(state, message(to=to))
    counts = state.accepted_counts()
    assert counts["counts"] == {"+6281200000001": 2, "+6281200000002": 1}
    assert counts["duplicates"] == {"+6281200000001": 2}
    assert counts["total"] == 3


def test_accepted_messages_keep_what_was_sent() -> None:
    state = make_state()
    post(state)
    [record] = state.accepted(to="+6281234567890")
    assert record["template_name"] == "event_reminder"
    assert record["language"] == "id"
    assert record["parameters"] == [
        {"name": None, "text": "Budi"},
        {"name": None, "text": "Jakarta"},
    ]
    assert record["phone_number_id"] == PHONE_NUMBER_ID


def test_only_the_newest_records_are_kept_but_counts_are_complete() -> None:
    config = SandboxConfig(access_token=TOKEN, phone_number_ids=(PHONE_NUMBER_ID,), max_records=5)
    state = SandboxState(config)
    for i in range(8):
        post(state, message(to=f"+62812000{i:05d}"))
    assert len(state.accepted(limit=100)) == 5
    assert state.accepted_counts()["recipients"] == 8


def test_stats_count_accepted_rejected_and_faults() -> None:
    state = make_state(script={"numbers": {"+6281100000001": "131026", "+6281100000005": "drop"}})
    post(state)
    post(state, message(to="+6281100000001"))
    post(state, message(to="+6281100000005"))
    post(state, auth="Bearer nope")
    stats = state.stats()
    assert stats["accepted_total"] == 1
    assert stats["rejected_by_code"] == {"131026": 1, "190": 1}
    assert stats["faults"] == {"drop": 1}
    assert stats["accepted_peak_per_second"] == 1


def test_reset_forgets_records_and_restores_the_start_up_script() -> None:
    state = make_state(
        script={"numbers": {"+6281100000002": [{"kind": "error", "code": 4, "times": 1}]}}
    )
    assert code_of(post(state, message(to="+6281100000002"))) == 4
    post(state, message(to="+6281100000002"))
    state.set_script(parse_script({"all": "190"}))
    state.reset()
    assert state.accepted_counts()["total"] == 0
    assert state.stats()["rejected_total"] == 0
    assert code_of(post(state, message(to="+6281100000002"))) == 4  # sequence starts again


def test_a_new_script_replaces_the_old_one() -> None:
    state = make_state(script={"all": "190"})
    state.set_script(parse_script({"numbers": {"+6281100000001": "131026"}}))
    assert post(state).status == 200
    assert state.script_source() == {"numbers": {"+6281100000001": "131026"}}


@pytest.mark.parametrize(
    "script",
    [
        [],
        {"unknown": 1},
        {"numbers": {"6281100000001": "131026"}},
        {"numbers": {"+6281100000001": "teapot"}},
        {"numbers": {"+6281100000001": {"kind": "explode"}}},
        {"numbers": {"+6281100000001": {"kind": "error"}}},
        {"numbers": {"+6281100000001": {"kind": "error", "code": 1, "times": 0}}},
        {"numbers": {"+6281100000001": ["131026", "ok"]}},
        {"numbers": {"+6281100000001": {"kind": "http", "http_status": 404}}},
        {"numbers": {"+6281100000001": {"kind": "error", "code": 5, "accept": True}}},
        {"numbers": {"+6281100000001": {"kind": ["error"]}}},
        {"random": {"rate": 2}},
        {"random": {"rate": 0.1, "faults": []}},
        {"templates": {"t": {"languages": "id"}}},
    ],
)
def test_invalid_scripts_are_refused_with_a_reason(script: Any) -> None:
    with pytest.raises(ScriptError):
        parse_script(script)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (190, 401),
        (0, 401),
        (10, 403),
        (250, 403),
        (132001, 404),
        (131000, 500),
        (2, 503),
        (130429, 400),
    ],
)
def test_error_codes_get_metas_http_status(code: int, status: int) -> None:
    assert http_status_for(code) == status


def test_the_config_repr_never_shows_the_token() -> None:
    assert TOKEN not in repr(SandboxConfig(access_token=TOKEN, phone_number_ids=("1",)))
