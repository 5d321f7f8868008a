"""The per-sender budget: bursts while the last second was quiet, the cap when it was busy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns.sending.throttle import PLANNING_WINDOW_SECONDS as WINDOW
from campaigns.sending.throttle import WINDOW_SECONDS, plan_slots, reserve_slots

NOW = 1_000_000.0


def test_a_batch_goes_out_at_once_when_the_last_second_was_quiet() -> None:
    assert plan_slots(reserved=[], count=50, capacity=76, now=NOW) == [NOW] * 50


def test_sends_beyond_the_capacity_wait_for_the_window_to_move_on() -> None:
    slots = plan_slots(reserved=[], count=10, capacity=4, now=NOW)
    assert slots == [NOW] * 4 + [NOW + WINDOW] * 4 + [NOW + 2 * WINDOW] * 2


def test_a_recent_burst_leaves_only_the_rest_of_the_capacity_for_now() -> None:
    earlier = [NOW - 0.5] * 50
    slots = plan_slots(reserved=earlier, count=40, capacity=76, now=NOW)
    assert slots[:26] == [NOW] * 26
    assert slots[26:] == [NOW - 0.5 + WINDOW] * 14


def test_sends_older_than_the_window_do_not_count() -> None:
    assert (
        plan_slots(reserved=[NOW - WINDOW - 0.01] * 76, count=5, capacity=76, now=NOW) == [NOW] * 5
    )


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=20),
    batches=st.lists(
        st.tuples(st.floats(min_value=0, max_value=3), st.integers(min_value=1, max_value=30)),
        min_size=1,
        max_size=8,
    ),
)
def test_no_one_second_window_ever_holds_more_than_the_capacity(
    capacity: int, batches: list[tuple[float, int]]
) -> None:
    reserved: list[float] = []
    now = NOW
    for gap, count in batches:
        now += gap
        planned = plan_slots(reserved=reserved, count=count, capacity=capacity, now=now)
        assert all(t >= now for t in planned)
        reserved = sorted(reserved + planned)
    for start in reserved:
        # Even if every send left up to the allowance late, WhatsApp's window stays in budget.
        in_window = [t for t in reserved if start <= t < start + WINDOW]
        assert len(in_window) <= capacity


@pytest.mark.django_db
def test_reservations_are_shared_through_the_database() -> None:
    first = reserve_slots(phone_number_id="106540352242922", count=19, per_second=20)
    second = reserve_slots(phone_number_id="106540352242922", count=5, per_second=20)

    # 95 % of 20/s = 19 per second: the first batch fills the window, the second waits.
    assert len(set(first.times)) == 1
    assert min(second.times) >= max(first.times) + WINDOW_SECONDS
