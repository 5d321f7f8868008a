"""The classification table of shared/reference/whatsapp-cloud-api.md, code by code."""

from __future__ import annotations

import pytest

from campaigns.whatsapp.errors import (
    KNOWN_CODES,
    MAX_BACKOFF_SECONDS,
    Outcome,
    classify,
    pair_rate_backoff_seconds,
    retry_backoff_seconds,
)

RETRY_LATER = [1, 2, 4, 80007, 130429, 131000, 131016, 131057, 133004, 2494100]
SLOW_DOWN = {4, 80007, 130429}
PERMANENT = [131026, 131050, 130403, 131047, 131021, 131051, 131053, 132005, 135000]
FATAL = [
    0,
    190,
    3,
    10,
    200,
    250,
    299,
    131005,
    33,
    133010,
    131031,
    368,
    131042,
    131037,
    131045,
    131063,
    100,
    131008,
    131009,
    132000,
    132001,
    132007,
    132012,
    132015,
    132016,
    131048,
]


@pytest.mark.parametrize("code", RETRY_LATER)
def test_it_retries_later_on_transient_codes(code: int) -> None:
    result = classify(code=code, http_status=400)
    assert result.outcome is Outcome.RETRY_LATER
    assert result.slow_down is (code in SLOW_DOWN)
    assert not result.opt_out
    assert result.defer_hours is None


@pytest.mark.parametrize("code", sorted(SLOW_DOWN))
def test_throttling_codes_tell_the_sender_to_slow_down(code: int) -> None:
    result = classify(code=code, http_status=429)
    assert result.slow_down
    assert "Rate limit exceeded — increase the delay between batches" in result.hint


def test_pair_rate_limit_retries_only_this_recipient() -> None:
    result = classify(code=131056, http_status=400)
    assert result.outcome is Outcome.RETRY_RECIPIENT_LATER
    assert not result.slow_down


@pytest.mark.parametrize("code", PERMANENT)
def test_it_fails_the_recipient_for_good_on_recipient_codes(code: int) -> None:
    result = classify(code=code, http_status=400)
    assert result.outcome is Outcome.PERMANENT
    assert result.opt_out is (code == 131050)
    assert result.defer_hours is None


def test_an_opt_out_is_flagged_to_remember() -> None:
    result = classify(code=131050, http_status=400)
    assert result.opt_out
    assert "stopped marketing messages" in result.hint


def test_the_marketing_limit_defers_the_recipient_by_a_day() -> None:
    result = classify(code=131049, http_status=400)
    assert result.outcome is Outcome.PERMANENT
    assert result.defer_hours == 24
    assert not result.opt_out


def test_a_test_number_recipient_fails_with_a_hint_about_test_numbers() -> None:
    result = classify(code=131030, http_status=400)
    assert result.outcome is Outcome.PERMANENT
    assert "test number" in result.hint


@pytest.mark.parametrize("code", FATAL)
def test_it_stops_the_run_on_configuration_and_account_codes(code: int) -> None:
    result = classify(code=code, http_status=400)
    assert result.outcome is Outcome.FATAL
    assert f"({code})" in result.hint


def test_an_expired_token_names_the_code_and_what_to_fix() -> None:
    result = classify(code=190, http_status=401)
    assert result.hint == "access token expired (190) — check the WhatsApp API configuration"


def test_every_code_of_the_table_is_known() -> None:
    table = set(RETRY_LATER) | {131056, 131049, 131030} | set(PERMANENT) | set(FATAL)
    assert table <= KNOWN_CODES
    assert set(range(200, 300)) <= KNOWN_CODES


@pytest.mark.parametrize("http_status", [200, 400, 401, 403, 404, 429, 500, 503])
def test_it_decides_on_the_code_not_the_http_status(http_status: int) -> None:
    assert classify(code=131026, http_status=http_status).outcome is Outcome.PERMANENT
    assert classify(code=130429, http_status=http_status).outcome is Outcome.RETRY_LATER
    assert classify(code=190, http_status=http_status).outcome is Outcome.FATAL


def test_details_never_change_the_class() -> None:
    plain = classify(code=131026, http_status=400)
    noisy = classify(code=131026, http_status=400, details="Rate limit hit, retry later")
    assert noisy == plain


def test_an_unknown_code_on_a_server_error_is_retried() -> None:
    result = classify(code=987654, http_status=503, details="odd")
    assert result.outcome is Outcome.RETRY_LATER
    assert "987654" in result.hint


@pytest.mark.parametrize("http_status", [400, 403, 404, None])
def test_an_unknown_code_otherwise_fails_only_the_recipient(http_status: int | None) -> None:
    result = classify(code=987654, http_status=http_status, details="Something new")
    assert result.outcome is Outcome.PERMANENT
    assert result.hint.endswith(": Something new")


@pytest.mark.parametrize("http_status", [500, 502, 503, 504, 408])
def test_without_a_code_server_errors_are_retried(http_status: int) -> None:
    result = classify(code=None, http_status=http_status)
    assert result.outcome is Outcome.RETRY_LATER
    assert not result.slow_down


def test_without_a_code_429_slows_the_sender_down() -> None:
    result = classify(code=None, http_status=429)
    assert result.outcome is Outcome.RETRY_LATER
    assert result.slow_down


@pytest.mark.parametrize("http_status", [301, 400, 401, 403, 404, 405])
def test_without_a_code_other_statuses_stop_the_run(http_status: int) -> None:
    result = classify(code=None, http_status=http_status)
    assert result.outcome is Outcome.FATAL
    assert "WHATSAPP_API_BASE_URL" in result.hint


def test_no_answer_at_all_is_retried() -> None:
    assert classify(code=None, http_status=None).outcome is Outcome.RETRY_LATER


@pytest.mark.parametrize(("failures", "seconds"), [(1, 1), (2, 4), (3, 16), (4, 64), (5, 256)])
def test_pair_rate_backoff_grows_as_powers_of_four(failures: int, seconds: float) -> None:
    assert pair_rate_backoff_seconds(failures=failures) == seconds


def test_backoffs_are_capped() -> None:
    assert pair_rate_backoff_seconds(failures=50) == MAX_BACKOFF_SECONDS
    assert retry_backoff_seconds(failures=50) == MAX_BACKOFF_SECONDS


def test_retry_backoff_doubles_and_starts_higher_when_slowing_down() -> None:
    assert [retry_backoff_seconds(failures=n) for n in (1, 2, 3)] == [2, 4, 8]
    assert [retry_backoff_seconds(failures=n, slow_down=True) for n in (1, 2, 3)] == [5, 10, 20]
