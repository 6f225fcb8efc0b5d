"""Per-reporter flood limit: a burst allowance, updates weighed by cost, and an honest minute.

A state adversary can run many accounts and hammer the bot (DESIGN.md §2, adversary 1); a limit
per user keeps one of them from stalling everyone else. It is kept in memory only, keyed by the
daily pseudonyms of :mod:`handlers.pseudonyms`, so it never becomes a list of who wrote (I2).

**Burst and weights, both.** An honest reporter and a flood differ in shape, not in their first
seconds: a whole report pressed through quickly — about twenty presses and answers, ten files sent
as one album, then ``/status`` with the receipt — is some fifty units inside a minute and then
nothing for a long time; a flood keeps going. So each pseudonym has a token bucket holding
``burst`` units, refilled at ``max_per_minute`` units a minute: a report goes through on the
bucket it starts with, and a sustained sender is held to the refill rate once the bucket is
empty. Updates are weighed by what they cost the bot: a press, a text or a command is
:data:`MESSAGE_COST` (one answer to send), a file :data:`FILE_COST` (a download of up to the
file limit and a run of the cleaning sandbox), so a flood of files is cut off twice as soon as a
flood of text, while an album of ten still fits a report's burst.

**An honest minute.** The refusal asks the reporter to wait a minute, and a minute must be
enough. The earlier limiter counted accepted messages in a sliding minute, by the time the bot
handled them. Messages the reporter had already sent when it refused — the rest of an album, the
updates waiting in the chat's queue while a file was being cleaned, an impatient "hello?" — were
then admitted one by one, each time the oldest accepted message left the window, during the very
minute the reporter was told to wait; each filled the window again, so the reporter who obeyed
was refused again after the minute. Now a refusal opens a quiet minute (:data:`QUIET_SECONDS`):
everything of that pseudonym is refused, silently, until it ends, and refused updates never take
tokens, so when it ends the bucket holds at least ``max_per_minute`` units and the reporter
continues where they were. Only ``/forget`` and the Erase buttons are not held by the quiet
minute, just by the bucket: emptying the chat (I7) must never wait a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Update

from handlers.pseudonyms import DailyPseudonyms

# The wait a refusal asks for ("Please wait a minute").
QUIET_SECONDS = 60.0
# What an update weighs: one answer for a press, text or command; a download and a cleaning run
# in the sandbox for a file.
MESSAGE_COST = 1
FILE_COST = 2
# Past this many pseudonyms, idle ones are swept before a new one is added (bounds memory).
_SWEEP_AT = 4096
# Refills add up in floating point: a minute's refill in many small steps may fall a hair short.
_EPSILON = 1e-9


def update_cost(update: Update) -> int:
    """What ``update`` weighs: :data:`FILE_COST` for a message carrying a file the bot would
    download and clean, :data:`MESSAGE_COST` for anything else."""
    message = update.message
    if message is not None and (
        message.photo or message.document or message.voice or message.audio or message.video
    ):
        return FILE_COST
    return MESSAGE_COST


@dataclass(frozen=True)
class FloodVerdict:
    """Whether to handle an update, and whether this refusal is the one to answer.

    Only the refusal that opens a quiet minute is answered, so that a flood does not make the bot
    flood back.
    """

    allowed: bool
    first_refusal: bool = False


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    quiet_until: float = 0.0


class FloodLimiter:
    """A token bucket per daily pseudonym: ``burst`` units, ``max_per_minute`` refilled a minute.

    ``burst`` below ``max_per_minute`` (or None) counts as ``max_per_minute``: a bucket smaller
    than a minute's refill would refuse what the rate allows. Not thread-safe: call it from the
    event loop only (handlers do).
    """

    def __init__(
        self,
        max_per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_per_minute < 1:
            raise ValueError("max_per_minute must be at least 1")
        burst = max(max_per_minute, burst or 0)
        self._rate = max_per_minute / 60.0
        self._per_minute = max_per_minute
        self._burst = float(burst)
        self._clock = clock
        self._pseudonyms = DailyPseudonyms()
        self._buckets: dict[bytes, _Bucket] = {}

    def __repr__(self) -> str:
        return (
            f"FloodLimiter(max_per_minute={self._per_minute}, burst={self._burst:g}, "
            f"tracked={len(self._buckets)})"
        )

    def check(
        self, user_id: int, cost: int = MESSAGE_COST, *, erasing: bool = False
    ) -> FloodVerdict:
        """Take ``cost`` units from ``user_id``'s bucket if it holds them, and say whether it did.

        A cost above ``burst`` is taken as ``burst`` (such an update passes on a full bucket).
        ``erasing`` (``/forget``, an Erase button) is not held by the quiet minute, only by the
        bucket: a reporter who must empty the chat now (I7) waits seconds at most, while a flood
        of them is still held to the rate.
        """
        now = self._clock()
        pseudonym, new_day = self._pseudonyms.of(user_id, now)
        if new_day:
            self._buckets.clear()  # yesterday's pseudonyms can never be looked up again
        bucket = self._buckets.get(pseudonym)
        if bucket is None:
            if len(self._buckets) >= _SWEEP_AT:
                self.sweep()
            bucket = self._buckets[pseudonym] = _Bucket(self._burst, now)
        self._refill(bucket, now)
        if now < bucket.quiet_until and not erasing:
            return FloodVerdict(allowed=False)
        needed = min(float(cost), self._burst)
        if bucket.tokens + _EPSILON >= needed:
            bucket.tokens = max(0.0, bucket.tokens - needed)
            return FloodVerdict(allowed=True)
        if now < bucket.quiet_until:
            return FloodVerdict(allowed=False)  # already told
        bucket.quiet_until = now + QUIET_SECONDS
        return FloodVerdict(allowed=False, first_refusal=True)

    def _refill(self, bucket: _Bucket, now: float) -> None:
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
        bucket.updated = now

    def sweep(self) -> int:
        """Forget pseudonyms whose bucket is full again and not quiet (they are as if new);
        returns how many were dropped."""
        now = self._clock()
        stale = []
        for pseudonym, bucket in self._buckets.items():
            self._refill(bucket, now)
            if bucket.tokens + _EPSILON >= self._burst and now >= bucket.quiet_until:
                stale.append(pseudonym)
        for pseudonym in stale:
            del self._buckets[pseudonym]
        return len(stale)

    @property
    def tracked(self) -> int:
        """How many pseudonyms are held (a count, for metrics and tests)."""
        return len(self._buckets)
