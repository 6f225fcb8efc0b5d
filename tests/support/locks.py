"""Holding one of ``storage.locks``' transaction locks from a test, as a concurrent transaction
of the service would, and checking that another transaction waits for it (PostgreSQL only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage import locks
from storage.engine import Database

T = TypeVar("T")

# Long enough for a transaction that does not wait to have finished on a loaded machine; the
# waiting one is only ever checked to be still pending after it, so it cannot make a test flaky.
STILL_WAITING = 0.5
# How long a transaction may take to finish once the lock is free.
FINISHES_WITHIN = 30.0


@asynccontextmanager
async def holding(db: Database, lock: locks.TransactionLock) -> AsyncIterator[AsyncSession]:
    """An open transaction on a connection of its own that took ``lock`` first; it commits
    when the block ends (what the block wrote becomes visible then), or rolls back on error."""
    async with db.sessionmaker() as session, session.begin():
        await locks.take(session, lock)
        yield session


async def wait_for_release(
    db: Database, lock: locks.TransactionLock, work: Coroutine[Any, Any, T]
) -> T:
    """Run ``work`` while another transaction holds ``lock``; assert it is still waiting after
    :data:`STILL_WAITING` seconds, then free the lock and return what ``work`` returns."""
    async with holding(db, lock):
        task = asyncio.create_task(work)
        await asyncio.sleep(STILL_WAITING)
        assert not task.done(), "it went ahead while the lock was held"
    return await asyncio.wait_for(task, FINISHES_WITHIN)


async def until_blocked_by(db: Database, holder: AsyncSession) -> None:
    """Return once another connection waits for a lock ``holder``'s open transaction holds
    (a row lock, say), so a test knows where a transaction it started has got to; fail after
    :data:`FINISHES_WITHIN` seconds."""
    pid = await holder.scalar(text("SELECT pg_backend_pid()"))
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    async with asyncio.timeout(FINISHES_WITHIN):
        while True:
            async with db.sessionmaker() as session:
                if await session.scalar(waiting, {"pid": pid}):
                    return
            await asyncio.sleep(0.05)
