"""``bot.lifecycle.unless_stopped``: a stop cancels the work in hand, and only a stop does."""

from __future__ import annotations

import asyncio

import pytest

from bot.lifecycle import unless_stopped


async def test_a_stop_cancels_the_work_and_waits_for_its_end() -> None:
    stop = asyncio.Event()
    ended = asyncio.Event()

    async def held() -> None:
        try:
            await asyncio.Event().wait()  # a Bot API call that does not come back
        finally:
            ended.set()

    loop = asyncio.get_running_loop()
    loop.call_soon(stop.set)
    assert await unless_stopped(stop, held()) is False
    assert ended.is_set()  # nothing of the work runs on behind the stop


async def test_work_done_before_a_stop_counts_as_done() -> None:
    stop = asyncio.Event()
    assert await unless_stopped(stop, asyncio.sleep(0)) is True
    assert not stop.is_set()


async def test_the_works_own_failure_is_raised() -> None:
    async def failing() -> None:
        raise LookupError

    with pytest.raises(LookupError):
        await unless_stopped(asyncio.Event(), failing())


async def test_a_cancellation_that_is_not_a_stop_is_raised() -> None:
    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await unless_stopped(asyncio.Event(), cancelled())
