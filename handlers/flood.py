"""Per-reporter flood limit, kept in memory and keyed by a pseudonym that changes every day.

A state adversary can run many accounts and hammer the bot (DESIGN.md §2, adversary 1); a limit
per user keeps one of them from stalling everyone else. The limiter must not itself become a list
of who wrote to the bot (I2): the map is keyed by ``HMAC-SHA256(day_key, user_id)`` where
``day_key`` is 32 random bytes drawn when the limiter starts and again each UTC day, held only in
this object and replaced — with the whole map — at rotation. Nothing is ever written to disk; an
image of memory taken later can link a pseudonym to a user id only for the current day, and only
with that day's key.

The window is a sliding minute: each pseudonym keeps the times of its recent accepted messages
(at most ``max_per_minute`` of them, so memory per user is bounded), and a message is refused when
that many already fall within the last 60 seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
_DAY_SECONDS = 86_400
_KEY_BYTES = 32
# Past this many pseudonyms, idle ones are swept before a new one is added (bounds memory).
_SWEEP_AT = 4096


@dataclass(frozen=True)
class FloodVerdict:
    """Whether to handle a message, and whether this is the first refusal of the current burst.

    Only the first refusal is answered, so that a flood does not make the bot flood back.
    """

    allowed: bool
    first_refusal: bool = False


class FloodLimiter:
    """Sliding-window limit of ``max_per_minute`` messages per user, keyed by a daily pseudonym.

    Not thread-safe: call it from the event loop only (handlers do).
    """

    def __init__(self, max_per_minute: int, *, clock: Callable[[], float] = time.time) -> None:
        if max_per_minute < 1:
            raise ValueError("max_per_minute must be at least 1")
        self._limit = max_per_minute
        self._clock = clock
        self._day = -1
        self._key = b""
        self._recent: dict[bytes, deque[float]] = {}
        self._refused: set[bytes] = set()

    def __repr__(self) -> str:
        # The key links pseudonyms to users for a day: never print it.
        return f"FloodLimiter(max_per_minute={self._limit}, tracked={len(self._recent)})"

    def _pseudonym(self, user_id: int, now: float) -> bytes:
        day = int(now // _DAY_SECONDS)
        if day != self._day:
            # Daily rotation: a fresh key and an empty map, so yesterday's pseudonyms are gone.
            self._day = day
            self._key = secrets.token_bytes(_KEY_BYTES)
            self._recent.clear()
            self._refused.clear()
        return hmac.digest(self._key, str(user_id).encode("ascii"), hashlib.sha256)

    def check(self, user_id: int) -> FloodVerdict:
        """Record a message from ``user_id`` if it is within the limit, and say whether it is."""
        now = self._clock()
        pseudonym = self._pseudonym(user_id, now)
        if pseudonym not in self._recent and len(self._recent) >= _SWEEP_AT:
            self.sweep()
        recent = self._recent.setdefault(pseudonym, deque(maxlen=self._limit))
        while recent and now - recent[0] >= WINDOW_SECONDS:
            recent.popleft()
        if len(recent) < self._limit:
            recent.append(now)
            self._refused.discard(pseudonym)
            return FloodVerdict(allowed=True)
        first = pseudonym not in self._refused
        self._refused.add(pseudonym)
        return FloodVerdict(allowed=False, first_refusal=first)

    def sweep(self) -> int:
        """Forget pseudonyms with no message in the last minute; returns how many were dropped."""
        now = self._clock()
        stale = [
            p for p, times in self._recent.items() if not times or now - times[-1] >= WINDOW_SECONDS
        ]
        for pseudonym in stale:
            del self._recent[pseudonym]
            self._refused.discard(pseudonym)
        return len(stale)

    @property
    def tracked(self) -> int:
        """How many pseudonyms are held (a count, for metrics and tests)."""
        return len(self._recent)
