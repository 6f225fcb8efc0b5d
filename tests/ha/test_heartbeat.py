"""The leader's heartbeat on its lock connection, against the machine's PostgreSQL (no processes).

The heartbeat bounds how long the database may take to answer, not how soon this process gets
round to reading the answer: a leader whose event loop was held up (a long step, or no CPU on a
loaded machine) while the answer came must not take itself for cut off and end — that ended a
healthy leader in the middle of the failover test. A database that does not answer within the
bound still ends the leadership, and so does a connection that ends before or during a
heartbeat, however asyncpg reports it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from bot.leadership.connection import LockConnection
from bot.leadership.elector import Elector
from bot.leadership.fence import LeaderFence
from bot.leadership.timings import Timings
from storage.engine import open_database
from storage.migrate import upgrade_database
from tests.support.processes import until

pytestmark = pytest.mark.postgres

TIMINGS = Timings(takeover=1.0)  # a heartbeat bound of 0.2 s

_HEARTBEAT_WAITING = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE application_name LIKE :name AND wait_event_type = 'Lock'"
)
_TERMINATE = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE :name"
)


@pytest.fixture
async def migrated(postgres_database: str) -> str:
    """The URL of a migrated database of its own."""
    database = open_database(postgres_database)
    try:
        await upgrade_database(database)
    finally:
        await database.close()
    return postgres_database


@pytest.fixture
async def connection(migrated: str) -> AsyncIterator[LockConnection]:
    lock = LockConnection(migrated, "instance-heartbeat", TIMINGS)
    await lock.open()
    try:
        yield lock
    finally:
        await lock.close()


async def test_an_answer_that_came_while_the_process_was_busy_counts(
    connection: LockConnection,
) -> None:
    epoch = await connection.epoch()
    heartbeat = asyncio.ensure_future(connection.epoch())
    await asyncio.sleep(0)  # the query is sent
    time.sleep(TIMINGS.heartbeat * 5)  # noqa: ASYNC251 - the event loop held up, on purpose
    assert await heartbeat == epoch


async def test_a_database_that_does_not_answer_ends_the_heartbeat(
    connection: LockConnection, migrated: str
) -> None:
    database = open_database(migrated)
    try:
        async with database.sessionmaker() as session, session.begin():
            # The heartbeat's read now waits behind this lock: no answer comes.
            await session.execute(text("LOCK TABLE leadership IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(TimeoutError):
                await connection.epoch()
    finally:
        await database.close()


async def test_a_lock_connection_ended_during_a_heartbeat_ends_the_leadership(
    migrated: str,
) -> None:
    """The backend terminated while a heartbeat waits for its answer (the partition test's
    ``pg_terminate_backend``, caught mid-heartbeat): the error the read then raises ends the
    leadership like any lost connection."""
    database = open_database(migrated)
    fence = LeaderFence(database)
    timings = Timings(takeover=10.0)  # a heartbeat every 2 s, each given 2 s
    elector = Elector(lambda: LockConnection(migrated, "instance-cut", timings), fence, timings)
    stop = asyncio.Event()
    try:
        assert await elector.become_leader(stop)
        async with database.sessionmaker() as session, session.begin():
            # The next heartbeat's read waits behind this lock, long enough to be cut.
            await session.execute(text("LOCK TABLE leadership IN ACCESS EXCLUSIVE MODE"))
            watching = asyncio.ensure_future(elector.watch(stop))

            async def heartbeat_waiting() -> bool:
                async with database.sessionmaker() as probe:
                    return bool(await probe.scalar(_HEARTBEAT_WAITING, {"name": "%instance-cut"}))

            await until(heartbeat_waiting, timeout=30)
            async with database.sessionmaker() as probe, probe.begin():
                await probe.execute(_TERMINATE, {"name": "%instance-cut"})
            assert await watching is True
        assert not fence.leading()
    finally:
        await elector.close()
        await database.close()


async def test_a_heartbeat_between_the_end_and_its_notice_meets_a_closed_connection(
    connection: LockConnection,
) -> None:
    """asyncpg tells its termination listeners a loop turn after the connection ends: a
    heartbeat in between must see a closed connection (which ends the leadership), not
    asyncpg's ``InterfaceError``, which ended the process through the clean stop."""
    connection._connection.terminate()  # type: ignore[union-attr]  # the end, not yet noticed
    assert not connection.closed.is_set()
    with pytest.raises(ConnectionError):
        await connection.epoch()
