"""Where time enters the local Bot API server.

Everything time-dependent — message dates, the 48-hour deletion rule, rate-limit buckets, the
lifetime of a ``file_path`` — reads :meth:`Clock.now`, so a test can move time forward instead of
waiting for it. Waiting itself (long polling, webhook retries, hangs) uses the event loop's real
time, because a test cannot make an HTTP client give up early by changing our clock.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock time in Unix seconds."""

    def now(self) -> float:
        """Return the current time in seconds since the epoch."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        """Return :func:`time.time`."""
        return time.time()


class AdjustableClock:
    """The real wall clock plus an offset that tests can only move forward.

    Time keeps flowing (so rate-limit buckets refill and dates look real), and
    :meth:`advance` jumps it ahead, e.g. past the 48 hours after which a message can no longer
    be deleted. It never goes back: Telegram's dates are monotonic and so must ours be.
    """

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        """Return the real time plus every advance so far."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward; raises ``ValueError`` for a negative amount."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
