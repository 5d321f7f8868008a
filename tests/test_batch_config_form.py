"""The Manual Batch Processing form: bounds, defaults, preview figures and recommendations."""

from __future__ import annotations

import pytest

from campaigns.batch_forms import (
    BatchConfigForm,
    format_hms,
    preview,
    recommended_batch_range,
    size_recommendations,
)


def test_form_starts_with_batch_10_delay_5_retries_3() -> None:
    form = BatchConfigForm()

    assert form["batch_size"].initial == 10
    assert form["delay_seconds"].initial == 5
    assert form["max_retries"].initial == 3


@pytest.mark.parametrize(
    ("batch_size", "delay_seconds", "max_retries"),
    [(1, 1, 1), (50, 60, 5), (10, 5, 3)],
)
def test_form_accepts_the_bounds(batch_size: int, delay_seconds: int, max_retries: int) -> None:
    form = BatchConfigForm(
        {"batch_size": batch_size, "delay_seconds": delay_seconds, "max_retries": max_retries}
    )

    assert form.is_valid(), form.errors
    assert form.config() == {
        "batch_size": batch_size,
        "delay_seconds": delay_seconds,
        "max_retries": max_retries,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batch_size", 0),
        ("batch_size", 51),
        ("delay_seconds", 0),
        ("delay_seconds", 61),
        ("max_retries", 0),
        ("max_retries", 6),
        ("batch_size", "ten"),
        ("delay_seconds", ""),
        ("max_retries", "2.5"),
    ],
)
def test_form_refuses_values_out_of_range_or_not_whole_numbers(field: str, value: object) -> None:
    data: dict[str, object] = {"batch_size": 10, "delay_seconds": 5, "max_retries": 3}
    data[field] = value

    form = BatchConfigForm(data)

    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert form.config() is None


def test_form_renders_number_inputs_with_their_limits() -> None:
    html = str(BatchConfigForm()["batch_size"])

    assert 'type="number"' in html
    assert 'min="1"' in html
    assert 'max="50"' in html


def test_preview_counts_batches_and_waits_between_them_but_not_after_the_last() -> None:
    figures = preview(pending=95, batch_size=10, delay_seconds=5, batch_seconds=1.0)

    assert figures.batches == 10
    # 10 batches of 1 s and 9 pauses of 5 s.
    assert figures.duration_seconds == 55
    assert figures.messages_per_minute == 100


def test_preview_of_nothing_pending_is_zero_batches_and_no_time() -> None:
    figures = preview(pending=0, batch_size=10, delay_seconds=5, batch_seconds=1.0)

    assert figures.batches == 0
    assert figures.duration_seconds == 0


def test_durations_read_as_hours_minutes_seconds() -> None:
    assert format_hms(55) == "0:00:55"
    assert format_hms(3725) == "1:02:05"
    assert format_hms(90_000) == "25:00:00"
    assert format_hms(None) == "—"


@pytest.mark.parametrize(
    ("recipients", "expected"),
    [(0, (5, 10)), (99, (5, 10)), (100, (10, 20)), (500, (10, 20)), (501, (20, 50))],
)
def test_recommended_batch_size_follows_the_guide(
    recipients: int, expected: tuple[int, int]
) -> None:
    assert recommended_batch_range(recipients=recipients) == expected
    assert sum(row.applies for row in size_recommendations(recipients=recipients)) == 1
