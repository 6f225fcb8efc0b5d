"""Coarse times (I3): rounding onto a grid never moves an instant the wrong way or off the grid."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.coarse_time import round_down, round_up

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
instants = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)
grids = st.sampled_from(
    [dt.timedelta(microseconds=200_000), dt.timedelta(minutes=10), dt.timedelta(hours=1)]
)


@given(instants, grids)
def test_rounding_lands_on_the_grid_within_one_step_on_the_asked_side(
    instant: dt.datetime, grid: dt.timedelta
) -> None:
    up, down = round_up(instant, grid), round_down(instant, grid)
    assert down <= instant <= up
    assert up - instant < grid
    assert instant - down < grid
    assert (up - EPOCH) % grid == dt.timedelta(0) == (down - EPOCH) % grid


def test_a_grid_that_divides_a_day_falls_on_the_clocks_marks() -> None:
    instant = dt.datetime(2025, 3, 14, 12, 0, 0, 1, tzinfo=dt.UTC)
    assert round_up(instant, dt.timedelta(minutes=10)) == instant.replace(minute=10, microsecond=0)
    assert round_up(instant, dt.timedelta(hours=1)) == instant.replace(hour=13, microsecond=0)
    assert round_down(instant, dt.timedelta(hours=1)) == instant.replace(microsecond=0)
    on_mark = dt.datetime(2025, 3, 14, 13, tzinfo=dt.UTC)
    assert round_up(on_mark, dt.timedelta(hours=1)) == on_mark


def test_an_instant_in_another_zone_is_rounded_as_the_same_moment() -> None:
    cairo = dt.timezone(dt.timedelta(hours=2))
    instant = dt.datetime(2025, 3, 14, 14, 5, tzinfo=cairo)
    assert round_up(instant, dt.timedelta(hours=1)) == dt.datetime(2025, 3, 14, 13, tzinfo=dt.UTC)


def test_naive_instants_and_empty_grids_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        round_up(dt.datetime(2025, 3, 14, 12), dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="grid"):
        round_down(dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC), dt.timedelta(0))
