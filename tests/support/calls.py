"""Counting the Bot API calls the local server receives, per method.

Every call the server serves asks its fault injector first (``LocalBotApi.serve``), so wrapping
``faults.next_fault`` sees each call once, before any fault or method runs: a test learns where
the bot is (the receipt's ``sendMessage`` is in flight) and a benchmark counts what the bot asked
for (one ``deleteMessages`` per conversation), without touching the bot.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.local_api import Fault, LocalBotApi


class CallCounter:
    """How many calls of each Bot API method (lower case) the server has received so far."""

    def __init__(self, api: LocalBotApi) -> None:
        self.counts: Counter[str] = Counter()
        self._changed = asyncio.Event()
        original = api.faults.next_fault

        def next_fault(method: str) -> Fault | None:
            self.counts[method.lower()] += 1
            self._changed.set()
            return original(method)

        api.faults.next_fault = next_fault  # type: ignore[method-assign]

    def __getitem__(self, method: str) -> int:
        return self.counts[method.lower()]

    async def wait_for(self, method: str, count: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        """Return once ``method`` has been called ``count`` times in all."""
        async with asyncio.timeout(timeout):
            while self[method] < count:
                self._changed.clear()
                await self._changed.wait()
