"""Housekeeping deadlines (I3, I2): on the hour, never before the promised retention, and
never beyond Telegram's 48-hour deletion window."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from bot.services.housekeeping import TELEGRAM_DELETE_WINDOW, erase_deadline

HOUR = dt.timedelta(hours=1)
instants = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)
retentions = st.integers(min_value=1, max_value=48).map(lambda hours: dt.timedelta(hours=hours))


def _on_the_hour(instant: dt.datetime) -> bool:
    return (instant.minute, instant.second, instant.microsecond) == (0, 0, 0)


@given(instants, retentions)
def test_a_deadline_is_on_the_hour_and_within_telegrams_window(
    now: dt.datetime, retention: dt.timedelta
) -> None:
    deadline = erase_deadline(now, retention)
    assert _on_the_hour(deadline)
    # Messages sent up to ``now`` can still be deleted at any moment before the deadline.
    assert now < deadline < now + TELEGRAM_DELETE_WINDOW
    # Kept at most an hour longer than promised; shorter only where 48 h forces it.
    assert deadline < now + retention + HOUR
    assert deadline >= min(now + retention, now + TELEGRAM_DELETE_WINDOW - HOUR)


def test_the_default_retention_rounds_up_to_the_next_hour() -> None:
    now = dt.datetime(2025, 3, 14, 12, 34, 56, 789, tzinfo=dt.UTC)
    assert erase_deadline(now, dt.timedelta(hours=24)) == dt.datetime(
        2025, 3, 15, 13, tzinfo=dt.UTC
    )


def test_forty_eight_hours_rounds_down_not_past_the_window() -> None:
    now = dt.datetime(2025, 3, 14, 12, 34, tzinfo=dt.UTC)
    assert erase_deadline(now, dt.timedelta(hours=48)) == dt.datetime(
        2025, 3, 16, 12, tzinfo=dt.UTC
    )
    on_the_hour = dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC)
    assert erase_deadline(on_the_hour, dt.timedelta(hours=48)) == dt.datetime(
        2025, 3, 16, 11, tzinfo=dt.UTC
    )
