"""The Bot API client's own cost per call (docs/BENCHMARKS.md, "A lighter conversation step").

These check the conditions a cheap call depends on, not timings (which tests never assert).
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from httpcore._synchronization import current_async_library

from bot.app import BOT_API_CONNECTIONS
from bot.local_api import LocalBotApi
from tests.lifecycle_retention.conftest import bot_as_run


class _CountingFinder(importlib.abc.MetaPathFinder):
    """Counts every module search the import system makes while it is installed."""

    def __init__(self) -> None:
        self.searches: list[str] = []

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        self.searches.append(fullname)
        return None


async def test_async_library_lookup_searches_no_module_per_call() -> None:
    """httpcore runs this before every request; a module it imports and cannot find is searched
    for on every path, on every call (sniffio is a dependency for that reason)."""
    current_async_library()  # the first call may import
    finder = _CountingFinder()
    sys.meta_path.insert(0, finder)
    try:
        for _call in range(10):
            assert current_async_library() == "asyncio"
    finally:
        sys.meta_path.remove(finder)
    assert finder.searches == []


async def test_calls_beyond_the_pool_wait_for_a_connection_and_all_succeed(tmp_path: Path) -> None:
    """Three times as many concurrent calls as the bot has connections: every one is answered,
    and the pool never holds more than its bound (a larger pool makes each call dearer)."""
    async with (
        LocalBotApi.running() as api,
        bot_as_run(api, tmp_path) as (_runtime, application),
        application.bot,
    ):
        chat = api.open_chat(5_000_001, "Reporter")
        await chat.send_command("start")
        calls = 3 * BOT_API_CONNECTIONS
        sent = await asyncio.gather(
            *(application.bot.send_message(5_000_001, f"call {i}") for i in range(calls))
        )
        pool = application.bot.request._client._transport._pool
        assert len({message.message_id for message in sent}) == calls
        assert 0 < len(pool.connections) <= BOT_API_CONNECTIONS
