"""An event loop in a background thread, for synchronous drivers of asynchronous systems.

Hypothesis runs a state machine's rules as plain function calls; the bot and the local Bot API
server live on an asyncio loop. :class:`LoopThread` keeps that loop running between rules, so
the bot keeps polling, its jobs keep firing and its tasks keep their state from one rule to the
next, exactly as a process does between two messages.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class LoopThread:
    """``run(lambda: coroutine)`` awaits the coroutine on the loop thread and returns its result."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bot-loop",
                                        daemon=True)
        self._thread.start()

    def run(self, action: Callable[[], Awaitable[T]], timeout: float = 120.0) -> T:
        async def wrapper() -> T:
            return await action()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout)

    def close(self) -> None:
        """Stop the loop (after what was scheduled on it) and join the thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()
