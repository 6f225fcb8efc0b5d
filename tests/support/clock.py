"""The UTC day for tests that compare dates they wrote with dates a process takes from its clock.

Such a test fails when UTC midnight falls between its two readings of the day: it stores
"today" and a command it starts a second later prints "tomorrow". Reading the day once, at
least ``MARGIN`` before midnight, and waiting for the new day otherwise, keeps the test on one
day, since none of these tests runs for as long as the margin.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

MARGIN = dt.timedelta(minutes=3)


def settled_utc_day() -> dt.date:
    """Today's UTC date, once at least ``MARGIN`` of it remains (waits out the day otherwise)."""
    now = dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    if midnight - now < MARGIN:
        time.sleep((midnight - now).total_seconds() + 1)
    return dt.datetime.now(dt.UTC).date()


@pytest.fixture
def utc_day() -> dt.date:
    """The one UTC day the test runs in; see ``settled_utc_day``."""
    return settled_utc_day()
