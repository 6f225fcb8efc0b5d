"""The leader's heartbeat on its lock connection, against the machine's PostgreSQL (no processes).

The heartbeat bounds how long the database may take to answer, not how soon this process gets
round to reading the answer: a leader whose event loop was held up (a long step, or no CPU on a
loaded machine) while the answer came must not take itself for cut off and end — that ended a
healthy leader in the middle of the failover test. A database that does not answer within the
bound still ends the leadership.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from bot.leadership.connection import LockConnection
from bot.leadership.timings import Timings
from storage.engine import open_database
from storage.migrate import upgrade_database

pytestmark = pytest.mark.postgres

TIMINGS = Timings(takeover=1.0)  # a heartbeat bound of 0.2 s


@pytest.fixture
async def connection(postgres_database: str) -> AsyncIterator[LockConnection]:
    """A lock connection to a migrated database of its own."""
    database = open_database(postgres_database)
    try:
        await upgrade_database(database)
    finally:
        await database.close()
    lock = LockConnection(postgres_database, "instance-heartbeat", TIMINGS)
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
    connection: LockConnection, postgres_database: str
) -> None:
    database = open_database(postgres_database)
    try:
        async with database.sessionmaker() as session, session.begin():
            # The heartbeat's read now waits behind this lock: no answer comes.
            await session.execute(text("LOCK TABLE leadership IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(TimeoutError):
                await connection.epoch()
    finally:
        await database.close()
