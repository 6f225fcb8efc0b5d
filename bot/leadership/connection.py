"""The leader's lock connection: one PostgreSQL connection of its own, never from a pool.

A session-level advisory lock belongs to the server session that took it and is freed when that
session ends, however it ends: the process killed (the kernel closes the socket), the machine
gone (the server's TCP keepalives end the session, :mod:`bot.leadership.timings`), or the
backend terminated by an administrator. That is what makes it a leader's lock, and why it needs
a connection nothing else uses: SQLAlchemy's pool would hand the session to other work, reset
it, or close it when idle; PgBouncer in transaction pooling would run each statement on another
server session (docs/deploy.md says so). The connection is asyncpg's, opened directly.

Its ``application_name`` is ``sanad:<instance name>`` (``storage.leadership.instances``): a
random name per process, nothing about the machine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import NamedTuple

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from bot.leadership.timings import Timings
from storage.leadership import (
    APPLICATION_PREFIX,
    BUMP_EPOCH_SQL,
    EPOCH_SQL,
    LOCK_KEYS,
    TRY_LOCK_SQL,
)

#: How long opening the connection may take before the attempt counts as failed.
CONNECT_TIMEOUT_SECONDS = 10.0
#: How many slices the heartbeat bound is waited out in (see :meth:`LockConnection.epoch`).
HEARTBEAT_SLICES = 10


def asyncpg_dsn(database_url: str) -> str:
    """The asyncpg DSN of a ``postgresql+asyncpg://`` (or ``postgresql://``) database URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Bumped(NamedTuple):
    """The epoch this instance now leads under, and the name of the instance that led before."""

    epoch: int
    previous_leader: str | None


class LockConnection:
    """The dedicated connection: try the lock, bump the epoch, answer heartbeats.

    :attr:`closed` is set the moment the connection ends (asyncpg's termination listener), and
    stays set: a lock connection is never reopened, since the lock went with it.
    """

    def __init__(self, database_url: str, name: str, timings: Timings) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self.name = name
        self._timings = timings
        self._connection: asyncpg.Connection | None = None
        self.closed = asyncio.Event()

    async def open(self) -> None:
        """Connect; raises ``OSError``, ``TimeoutError`` or ``asyncpg.PostgresError``."""
        connection = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={
                "application_name": APPLICATION_PREFIX + self.name,
                **self._timings.server_settings(),
            },
        )
        connection.add_termination_listener(lambda _connection: self.closed.set())
        self._connection = connection

    def _live(self) -> asyncpg.Connection:
        """The open connection; ``ConnectionError`` once it ended, even before :attr:`closed`
        is set (asyncpg tells its termination listeners a loop turn later)."""
        connection = self._connection
        if connection is None or self.closed.is_set() or connection.is_closed():
            raise ConnectionError("the lock connection is closed")
        return connection

    async def try_lock(self) -> bool:
        """Take the leader's lock if no session holds it; never waits for it."""
        return bool(await self._live().fetchval(TRY_LOCK_SQL, *LOCK_KEYS))

    async def bump_epoch(self, now: dt.datetime) -> Bumped:
        """Increment the epoch under this instance's name; returns the new epoch and who led.

        ``since`` is stored to the minute (it says when the service changed hands).
        """
        since = now.astimezone(dt.UTC).replace(second=0, microsecond=0, tzinfo=None)
        epoch, previous = await self._live().fetchrow(BUMP_EPOCH_SQL, self.name, since)
        return Bumped(int(epoch), previous)

    async def epoch(self) -> int:
        """The epoch in force, within the heartbeat bound; raises when the connection cannot
        answer in time (``TimeoutError``, ``ConnectionError``, ``asyncpg`` errors).

        The bound is on the database's silence, not on this process's: it is waited out in
        :data:`HEARTBEAT_SLICES` slices, and a slice this process overslept (a long step on the
        event loop, or no CPU on a loaded machine) counts only its own length. An answer that
        arrived meanwhile is then read in the next slice, where a plain timeout would fire at
        once, cancel the read and end a healthy leader.
        """
        asking = asyncio.ensure_future(self._live().fetchval(EPOCH_SQL))
        bound = self._timings.heartbeat
        waited = 0.0
        try:
            while not asking.done() and waited < bound:
                await asyncio.wait([asking], timeout=bound / HEARTBEAT_SLICES)
                waited += bound / HEARTBEAT_SLICES
        finally:  # out of time, or this wait itself cancelled: the read goes too
            answered = asking.done()
            if not answered:
                asking.cancel()
        if not answered:
            raise TimeoutError("the lock connection did not answer the heartbeat in time")
        return int(asking.result())

    async def close(self) -> None:
        """Close the connection (the lock, if held, goes with it); never raises."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await asyncio.wait_for(connection.close(), timeout=self._timings.heartbeat)
        except Exception:  # closing is best effort: the server ends the session either way
            connection.terminate()
