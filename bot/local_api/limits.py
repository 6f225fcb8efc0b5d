"""Sending limits and injected faults: the ways Telegram says "not now".

Telegram throttles a bot that sends more than about one message per second to one chat (with a
small burst) or about thirty per second overall, answering ``429`` with
``parameters.retry_after``. :class:`RateLimiter` reproduces that with token buckets on the
server's clock; it is off by default so functional tests are not slowed by it.

:class:`FaultInjector` makes chosen methods fail on purpose — a 429, a 500, a 403, or no answer
at all — either in a fixed sequence or for a share of calls drawn from a seeded generator, so a
failing run can be replayed exactly.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from bot.local_api.clock import Clock
from bot.local_api.errors import too_many_requests


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Telegram's sending limits; ``enabled=False`` (the default) lets everything through."""

    enabled: bool = False
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    global_per_second: float = 30.0
    global_burst: int = 30

    def __post_init__(self) -> None:
        if min(self.per_chat_per_second, self.global_per_second) <= 0:
            raise ValueError("rates must be positive")
        if min(self.per_chat_burst, self.global_burst) < 1:
            raise ValueError("bursts must allow at least one message")


class _Bucket:
    """A token bucket: ``capacity`` tokens, refilled at ``rate`` per second."""

    def __init__(self, capacity: int, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.updated = now

    def wait_needed(self, now: float) -> float:
        """Seconds until one token is available (0 when one is available now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class RateLimiter:
    """Applies :class:`RateLimits` per bot and per (bot, chat)."""

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: dict[tuple[int, int | None], _Bucket] = {}

    def acquire(self, bot_id: int, chat_id: int) -> None:
        """Count one message to ``chat_id``, or raise the 429 Telegram would send.

        A refused message consumes nothing, so a bot that waits ``retry_after`` gets through.
        """
        if not self.limits.enabled:
            return
        now = self._clock.now()
        per_chat = self._bucket((bot_id, chat_id), self.limits.per_chat_burst,
                                self.limits.per_chat_per_second, now)
        overall = self._bucket((bot_id, None), self.limits.global_burst,
                               self.limits.global_per_second, now)
        wait = max(per_chat.wait_needed(now), overall.wait_needed(now))
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        per_chat.tokens -= 1
        overall.tokens -= 1

    def _bucket(self, key: tuple[int, int | None], capacity: int, rate: float,
                now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, rate, now)
        return bucket


class FaultKind(enum.Enum):
    """What an injected fault does to a request."""

    RETRY_AFTER = "retry_after"  # 429 with parameters.retry_after
    SERVER_ERROR = "server_error"  # 500, as when Telegram's backend hiccups
    FORBIDDEN = "forbidden"  # 403, the user blocked the bot
    HANG = "hang"  # no answer until the client gives up


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure; build it with the class methods."""

    kind: FaultKind
    retry_after: int = 0
    after_effect: bool = False

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> Fault:
        """Answer 429 with ``retry_after`` seconds; the call has no effect."""
        return cls(FaultKind.RETRY_AFTER, retry_after=retry_after)

    @classmethod
    def server_error(cls) -> Fault:
        """Answer 500; the call has no effect."""
        return cls(FaultKind.SERVER_ERROR)

    @classmethod
    def forbidden(cls) -> Fault:
        """Answer 403 ``Forbidden: bot was blocked by the user``; the call has no effect."""
        return cls(FaultKind.FORBIDDEN)

    @classmethod
    def hang(cls, *, after_effect: bool = False) -> Fault:
        """Never answer. With ``after_effect`` the call takes effect first — the lost
        acknowledgement after which a retry sends a message twice (DESIGN.md, I8)."""
        return cls(FaultKind.HANG, after_effect=after_effect)


@dataclass(slots=True)
class _Plan:
    sequence: list[Fault | None]
    share: float
    fault: Fault | None


class FaultInjector:
    """Decides, per method, whether the next call fails and how."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets # nosec B311
        self._plans: dict[str, _Plan] = {}

    def inject(
        self,
        method: str,
        *,
        sequence: Sequence[Fault | None] = (),
        share: float = 0.0,
        fault: Fault | None = None,
    ) -> None:
        """Plan faults for ``method`` (Bot API name, any case), replacing any earlier plan.

        The next calls take the items of ``sequence`` in order (``None`` lets a call through);
        after that, each call fails with ``fault`` with probability ``share``.
        """
        if not 0.0 <= share <= 1.0:
            raise ValueError("share must be between 0 and 1")
        if share and fault is None:
            raise ValueError("a share needs the fault to inject")
        self._plans[method.lower()] = _Plan(list(sequence), share, fault)

    def clear(self, method: str | None = None) -> None:
        """Stop injecting faults into ``method``, or into every method."""
        if method is None:
            self._plans.clear()
        else:
            self._plans.pop(method.lower(), None)

    def next_fault(self, method: str) -> Fault | None:
        """The fault for this call of ``method``, if any; consumes the plan's next step."""
        plan = self._plans.get(method.lower())
        if plan is None:
            return None
        if plan.sequence:
            return plan.sequence.pop(0)
        if plan.share and self._random.random() < plan.share:
            return plan.fault
        return None
