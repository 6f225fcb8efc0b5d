"""Daily pseudonyms: what a per-person limit is keyed by, so that it never becomes a user list.

A limit per user (the flood limiter, the daily report quota) must remember something about each
user for a while, and that memory must not be a list of who wrote to the bot (I2). It is keyed by
``HMAC-SHA256(day_key, user_id)``, where ``day_key`` is 32 random bytes drawn when the first
pseudonym of a UTC day is asked for, held only in this object and replaced at the next day.
Nothing is ever written to disk; an image of memory taken later can link a pseudonym to a user id
only for the current day, and only with that day's key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_DAY_SECONDS = 86_400
_KEY_BYTES = 32


class DailyPseudonyms:
    """Turns user ids into pseudonyms under a key that changes every UTC day.

    The owner keeps its per-pseudonym state in a map and empties it whenever :meth:`of` says the
    day changed: yesterday's pseudonyms can then never be looked up again.
    """

    def __init__(self) -> None:
        self._day = -1
        self._key = b""

    def __repr__(self) -> str:
        # The key links pseudonyms to users for a day: never print it.
        return "DailyPseudonyms(<redacted>)"

    def of(self, user_id: int, now: float) -> tuple[bytes, bool]:
        """The pseudonym of ``user_id`` at ``now`` (seconds since the epoch), and whether a new
        day (a new key) began with this call."""
        day = int(now // _DAY_SECONDS)
        rotated = day != self._day
        if rotated:
            self._day = day
            self._key = secrets.token_bytes(_KEY_BYTES)
        return hmac.digest(self._key, str(user_id).encode("ascii"), hashlib.sha256), rotated
