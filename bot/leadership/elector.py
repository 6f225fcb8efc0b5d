"""Standing by, becoming the leader, noticing the end of it.

:meth:`Elector.become_leader` is the standby's loop: every :attr:`Timings.retry` it tries the
advisory lock on its :class:`~bot.leadership.connection.LockConnection` (reconnecting when the
database went away). Once it holds the lock it bumps the epoch and hands it to the
:class:`~bot.leadership.fence.LeaderFence`: from then on its writes carry that epoch.

:meth:`Elector.watch` is the leader's: it returns as soon as the lock connection ends (asyncpg
reports it at once when the server terminates the backend or closes the socket), a heartbeat
does not answer within :attr:`Timings.heartbeat`, or the epoch in force is no longer this
instance's. The fence is told before it returns, so no update is taken from that moment. After
each heartbeat that finds the epoch still this instance's, ``on_heartbeat`` runs (the release of
claims whose owner is gone, :mod:`bot.leadership.claims`).

The fence also learns when this instance's lock connection opens and ends: while it is open the
registry lists the instance (``storage.leadership.registered``), and only then does it claim.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

import asyncpg  # type: ignore[import-untyped]

from bot.leadership.connection import LockConnection
from bot.leadership.fence import LeaderFence
from bot.leadership.timings import Timings
from bot.logs import event, get_logger

_log = get_logger("leadership")

#: What ends a heartbeat or an attempt at the lock. asyncpg's ``InterfaceError`` included: a
#: query started on a connection that ended before it ran raises "connection is closed".
_DATABASE_TROUBLE = (
    OSError,
    TimeoutError,
    ConnectionError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _first(*waits: asyncio.Future[object] | asyncio.Task[object]) -> None:
    """Wait until the first of ``waits`` is done; cancel the others."""
    _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for waiting in pending:
        waiting.cancel()


class Elector:
    """One instance's side of the election (see the module docstring)."""

    def __init__(
        self,
        connect: Callable[[], LockConnection],
        fence: LeaderFence,
        timings: Timings,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        on_heartbeat: Callable[[], object] = lambda: None,
    ) -> None:
        """``on_heartbeat`` runs inside the watch: it must return at once and not raise."""
        self._connect = connect
        self._fence = fence
        self._timings = timings
        self._clock = clock
        self._on_heartbeat = on_heartbeat
        self._connection: LockConnection | None = None

    async def become_leader(self, stop: asyncio.Event) -> bool:
        """Stand by until this instance leads (True), or until ``stop`` is set (False)."""
        told_unreachable = False
        while not stop.is_set():
            try:
                if self._connection is None or self._connection.closed.is_set():
                    await self._drop_connection()
                    self._connection = self._connect()
                    await self._connection.open()
                    self._fence.registered_until(self._connection.closed)
                if await self._connection.try_lock():
                    await self._pause(stop, self._timings.grace)
                    bumped = await self._connection.bump_epoch(self._clock())
                    self._fence.lead(bumped.epoch, bumped.previous_leader)
                    event(_log, "leader.elected", epoch=bumped.epoch)
                    return True
            except _DATABASE_TROUBLE:
                if not told_unreachable:
                    event(_log, "standby.database_unreachable", logging.WARNING)
                    told_unreachable = True
                await self._drop_connection()
            await self._pause(stop, self._timings.retry)
        return False

    async def watch(self, stop: asyncio.Event) -> bool:
        """While leading: return True once leadership is lost, False once ``stop`` is set."""
        connection = self._connection
        if connection is None or self._fence.epoch is None:
            raise RuntimeError("watch() before become_leader() succeeded")
        while True:
            await self._pause(stop, self._timings.heartbeat, connection.closed)
            if stop.is_set():
                return False
            if connection.closed.is_set():
                return self._lost("leader.lost_connection")
            try:
                epoch = await connection.epoch()
            except _DATABASE_TROUBLE:
                return self._lost("leader.heartbeat_failed")
            if epoch != self._fence.epoch:
                return self._lost("leader.superseded")
            self._on_heartbeat()

    def _lost(self, why: str) -> bool:
        self._fence.lose()
        event(_log, why, logging.ERROR)
        return True

    async def close(self) -> None:
        """Close the lock connection: a leader's lock is freed at once for a standby."""
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        self._fence.registered_until(None)
        if connection is not None:
            await connection.close()

    @staticmethod
    async def _pause(stop: asyncio.Event, seconds: float, *also: asyncio.Event) -> None:
        """Sleep ``seconds``, or less if ``stop`` (or any of ``also``) is set meanwhile."""
        waits = [asyncio.ensure_future(flag.wait()) for flag in (stop, *also)]
        await _first(asyncio.ensure_future(asyncio.sleep(seconds)), *waits)
