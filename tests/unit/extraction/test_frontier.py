"""How far new entries can be signalled (``airflow_provider_bc.extraction.frontier``): a number a posting
still holds is never passed until it commits or the horizon settles it; a signalled range never changes."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.extraction.frontier import Posted, frontier, horizon

OLD, NEW, LIMIT = "2024-01-01T10:00:00Z", "2024-01-01T12:00:00.5Z", "2024-01-01T11:00:00Z"


def posted(*numbers: int, stamped: str = NEW) -> list[Posted]:
    return [Posted(n, stamped) for n in numbers]


def test_nothing_above_the_watermark_moves_nothing() -> None:
    assert frontier(10, [], LIMIT) == 10
    assert frontier(10, posted(3, 9, 10), LIMIT) == 10


def test_an_unbroken_run_of_new_entries_is_signalled_at_once() -> None:
    assert frontier(10, posted(13, 11, 12), LIMIT) == 13


def test_a_number_still_held_stops_the_range_below_it() -> None:
    # 12 is held by a posting not yet committed: 13 and 14 wait
    assert frontier(10, posted(11, 13, 14), LIMIT) == 11
    assert frontier(10, posted(13, 14), LIMIT) == 10


def test_a_row_older_than_the_horizon_settles_every_number_below_it() -> None:
    # 12 is a gap: 13 was inserted before the horizon, so 12's posting has ended by now
    assert frontier(10, [*posted(11), Posted(13, OLD), *posted(14, 16)], LIMIT) == 14


def test_the_horizon_is_compared_as_a_time_not_as_text() -> None:
    # "…11:00:00.5Z" is after "…11:00:00Z" although "." sorts before "Z"
    assert frontier(10, [Posted(12, "2024-01-01T11:00:00.5Z")], LIMIT) == 10
    assert frontier(10, [Posted(12, "2024-01-01T10:59:59.9999999Z")], LIMIT) == 12


def test_the_horizon_is_now_less_the_commit_lag_in_business_central_s_form() -> None:
    now = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert horizon(now, dt.timedelta(minutes=15)) == "2024-01-01T11:45:00Z"


@given(
    after=st.integers(0, 50),
    numbers=st.sets(st.integers(0, 80), max_size=40),
    held=st.sets(st.integers(0, 80), max_size=10),
    settled=st.integers(0, 80),
)
def test_a_signalled_range_holds_no_number_that_may_still_appear(
    after: int, numbers: set[int], held: set[int], settled: int
) -> None:
    """Entries at or below ``settled`` are older than the horizon; ``held`` numbers may commit later
    (never below a settled row: their posting began before it, so it has ended)."""
    held = {n for n in held if n > settled} - numbers
    visible = [Posted(n, OLD if n <= settled else NEW) for n in numbers]
    reached = frontier(after, visible, LIMIT)
    assert reached >= after
    assert not any(after < n <= reached for n in held)
    old_above = [n for n in numbers if after < n <= settled]
    assert reached >= max(old_above, default=after)
    if reached > after:  # it moved only over numbers that are visible or settled
        assert all(n in numbers or n <= max(old_above, default=after) for n in range(after + 1, reached + 1))
