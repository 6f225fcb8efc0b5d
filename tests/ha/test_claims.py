"""Outbox claims and the leadership registry, against the machine's PostgreSQL (no processes).

A claim carries its instance's registered name and is made only while the registry lists that
name; the leader, in a write fenced by its epoch, releases the claims of every instance no longer
listed and of the instance it took over from, and nothing else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import select, update

from bot.leadership.claims import AbsentClaims
from bot.leadership.connection import LockConnection
from bot.leadership.fence import LeaderFence
from bot.leadership.timings import Timings
from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from storage.models import Leadership, OutboxEntry
from storage.outbox import claim_batch
from tests.storage.conftest import NOW
from tests.storage.helpers import pending_deliveries

pytestmark = pytest.mark.postgres

LEASE = dt.timedelta(minutes=10)
TIMINGS = Timings(takeover=2.0)


@pytest.fixture
async def database(postgres_database: str) -> AsyncIterator[Database]:
    """A migrated database of its own (the registry is per database)."""
    db = open_database(postgres_database)
    try:
        await upgrade_database(db)
        yield db
    finally:
        await db.close()


@pytest.fixture
def register(postgres_database: str) -> Callable[[str], Awaitable[LockConnection]]:
    """Make an instance named so as the registry sees it: its lock connection, open."""

    async def registered(name: str) -> LockConnection:
        connection = LockConnection(postgres_database, name, TIMINGS)
        await connection.open()
        return connection

    return registered


Register = Callable[[str], Awaitable[LockConnection]]


async def claims(db: Database) -> dict[str | None, int]:
    """How many pending rows each owner holds (None: unclaimed)."""
    held: dict[str | None, int] = {}
    async with db.sessionmaker() as session:
        for owner in await session.scalars(select(OutboxEntry.claimed_by)):
            held[owner] = held.get(owner, 0) + 1
    return held


async def claim(db: Database, name: str, limit: int) -> int:
    return len(
        await claim_batch(
            db, worker=name, now=NOW, limit=limit, lease=LEASE, while_registered=True
        )
    )


async def leader(db: Database, previous: str | None = None) -> LeaderFence:
    """A fence leading under a freshly bumped epoch, taking over from ``previous``."""
    async with db.sessionmaker() as session, session.begin():
        epoch = await session.scalar(
            update(Leadership).values(epoch=Leadership.epoch + 1).returning(Leadership.epoch)
        )
    fence = LeaderFence(db, "instance-leader")
    fence.lead(int(epoch or 0), previous)
    return fence


async def test_an_unregistered_name_claims_nothing(database: Database, register: Register) -> None:
    await pending_deliveries(database, 3)
    assert await claim(database, "instance-nobody", 3) == 0
    alive = await register("instance-alive")
    try:
        assert await claim(database, "instance-alive", 3) == 3
    finally:
        await alive.close()


async def test_the_leader_releases_the_claims_of_the_gone_only(
    database: Database, register: Register
) -> None:
    await pending_deliveries(database, 6)
    alive, dead, before = [
        await register(name) for name in ("instance-alive", "instance-dead", "instance-before")
    ]
    try:
        for connection in (alive, dead, before):
            assert await claim(database, connection.name, 2) == 2
        await dead.close()  # killed: its session, and its entry in the registry, are gone
        # The previous leader's session may still be ending when its successor starts.
        fence = await leader(database, previous="instance-before")
        await AbsentClaims(fence).release()
        assert await claims(database) == {"instance-alive": 2, None: 4}
        assert await claim(database, "instance-alive", 10) == 4
    finally:
        await alive.close()
        await before.close()


async def test_a_superseded_leader_releases_nothing(database: Database, register: Register) -> None:
    await pending_deliveries(database, 2)
    dead = await register("instance-dead")
    assert await claim(database, "instance-dead", 2) == 2
    await dead.close()
    stale = await leader(database)
    await leader(database)
    await AbsentClaims(stale).release()
    assert await claims(database) == {"instance-dead": 2}
    assert not stale.leading()


async def test_a_fence_is_registered_while_its_lock_connection_lives(
    database: Database, register: Register
) -> None:
    fence = LeaderFence(database)
    assert not fence.registered()
    connection = await register(fence.name)
    fence.registered_until(connection.closed)
    assert fence.registered()
    await connection.close()
    await asyncio.wait_for(connection.closed.wait(), timeout=10)
    assert not fence.registered()
