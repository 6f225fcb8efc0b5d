"""Instants moved onto a grid, so that a stored time says little about the moment behind it (I3).

DESIGN.md I3: times tied to a report or a reply are stored to the day, and the few scheduling
times that must be finer (when a delivery may go, when a claim lapses, when an erase target is
dropped) sit on a coarse grid instead of the instant the code happened to run. A grid is counted
from the Unix epoch, so a grid that divides a day (10 minutes, an hour) falls on the clock's own
marks and every row scheduled within one step carries the same value.
"""

from __future__ import annotations

import datetime as dt

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _steps(instant: dt.datetime, grid: dt.timedelta) -> tuple[int, int]:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    step = grid // _MICROSECOND
    if step < 1:
        raise ValueError("a time grid must be at least a microsecond")
    return (instant - _EPOCH) // _MICROSECOND, step


def round_up(instant: dt.datetime, grid: dt.timedelta) -> dt.datetime:
    """The first multiple of ``grid`` at or after ``instant``, in UTC: never earlier than asked."""
    offset, step = _steps(instant, grid)
    return _EPOCH + _MICROSECOND * (-(-offset // step) * step)


def round_down(instant: dt.datetime, grid: dt.timedelta) -> dt.datetime:
    """The last multiple of ``grid`` at or before ``instant``, in UTC: never later than asked."""
    offset, step = _steps(instant, grid)
    return _EPOCH + _MICROSECOND * (offset // step * step)
