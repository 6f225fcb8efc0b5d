"""Leadership among ``sanad run`` instances sharing one PostgreSQL database: the SQL of it.

One instance leads (``bot.leadership``): it holds the session-level advisory lock
:data:`LOCK_KEYS` on a connection of its own, and on taking it increments the **epoch** in the
one ``leadership`` row (:data:`BUMP_EPOCH_SQL`). The epoch is the fencing token:

- :func:`check_epoch` reads the row ``FOR SHARE`` inside the caller's transaction and raises
  :class:`StaleEpoch` unless it still holds the caller's epoch. A successor's bump (an ``UPDATE``
  of that row) waits for every transaction holding the share lock and is seen by every
  transaction after it, so a write checked here either commits before the successor's epoch
  exists or is refused: a leader that lost its lock without noticing cannot act after a
  successor started.
- :func:`take_update` records an update id in ``recent_updates`` (epoch-checked in the same
  transaction); Telegram hands unconfirmed updates again to whoever polls next, and an id already
  there is not taken twice. Only ids are stored, and only the latest :data:`KEEP_UPDATES`.

What ``sanad admin status`` shows comes from :func:`leader_state` and :func:`instances`; the
instances are the live connections whose ``application_name`` starts with
:data:`APPLICATION_PREFIX` (a random instance name, nothing about the machine), so an instance
that died is gone from the list with its connection, and no table of instances can go stale.
That list is the **registry**: :func:`registered` asks it inside any statement, which is how a
delivery's claim (``storage.outbox``, claimed under the instance's name) is known to belong to an
instance that is gone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    column,
    delete,
    exists,
    func,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import StorageError
from storage.models import Leadership, RecentUpdate

#: The advisory lock of the leader, two 32-bit keys ("Sana", "d-ld"): per database, so two
#: deployments on one server never contend.
LOCK_KEYS = (0x53616E61, 0x642D6C64)
#: ``application_name`` of every instance's leadership connection: this prefix and its name.
APPLICATION_PREFIX = "sanad:"
#: How many recent update ids are kept: far more than Telegram holds unconfirmed for one bot.
KEEP_UPDATES = 5000
#: Every this many update ids, the older ones are dropped (in the taking transaction).
PRUNE_EVERY = 100

TRY_LOCK_SQL = "SELECT pg_try_advisory_lock($1, $2)"
#: The bump: the new epoch is returned with the name of the instance that led before (the row
#: joined to itself reads the values from before the update); ``since`` is passed to the minute,
#: naive UTC.
BUMP_EPOCH_SQL = (
    "UPDATE leadership AS l SET epoch = l.epoch + 1, leader = $1, since = $2 "
    "FROM leadership AS before WHERE l.singleton = 'leader' AND before.singleton = 'leader' "
    "RETURNING l.epoch, before.leader"
)
#: The leader's heartbeat: the epoch now in force (another value means a successor bumped it).
EPOCH_SQL = "SELECT epoch FROM leadership WHERE singleton = 'leader'"


class StaleEpoch(StorageError):
    """This instance's leadership epoch is no longer the database's: another instance leads, and
    the write was refused."""


async def check_epoch(session: AsyncSession, epoch: int) -> None:
    """Raise :class:`StaleEpoch` unless ``epoch`` is in force; the caller's transaction then
    holds the row share-locked until it ends, so no successor can bump the epoch under it."""
    current = await session.scalar(select(Leadership.epoch).with_for_update(read=True))
    if current != epoch:
        raise StaleEpoch("another instance leads now: this write was refused")


async def take_update(session: AsyncSession, update_id: int, epoch: int) -> bool:
    """Record ``update_id`` as taken up under ``epoch``; False if it already was (caller commits).

    Raises :class:`StaleEpoch` when ``epoch`` is no longer in force. Every :data:`PRUNE_EVERY`
    ids, those older than the latest :data:`KEEP_UPDATES` are dropped.
    """
    await check_epoch(session, epoch)
    inserted = await session.scalar(
        insert(RecentUpdate)
        .values(update_id=update_id)
        .on_conflict_do_nothing()
        .returning(RecentUpdate.update_id)
    )
    if inserted is not None and update_id % PRUNE_EVERY == 0:
        await session.execute(
            delete(RecentUpdate).where(RecentUpdate.update_id < update_id - KEEP_UPDATES)
        )
    return inserted is not None


@dataclass(frozen=True)
class LeaderState:
    """The ``leadership`` row: the epoch, who bumped it last and when (None before any leader)."""

    epoch: int
    leader: str | None
    since: dt.datetime | None


async def leader_state(session: AsyncSession) -> LeaderState:
    row = (
        await session.execute(select(Leadership.epoch, Leadership.leader, Leadership.since))
    ).one()
    return LeaderState(row.epoch, row.leader, row.since)


@dataclass(frozen=True)
class Instance:
    """A running ``sanad run``: its random name, and whether it holds the leader's lock."""

    name: str
    leading: bool


_INSTANCES_SQL = text(
    """
    SELECT substr(a.application_name, :skip) AS name,
           EXISTS (
               SELECT 1 FROM pg_locks l
               WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
                 AND l.classid = :class_key AND l.objid = :object_key AND l.objsubid = 2
           ) AS leading
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.application_name LIKE :pattern
    ORDER BY 2 DESC, 1
    """
)


_ACTIVITY = table("pg_stat_activity", column("datname"), column("application_name"))


def registered(name: SQLColumnExpression[str | None]) -> ColumnElement[bool]:
    """SQL: whether an instance named ``name`` is connected now, its lock connection alive.

    PostgreSQL only. A process killed, or whose lock connection the server ended, is no longer
    registered from the moment its session is gone.
    """
    return exists().where(
        _ACTIVITY.c.datname == func.current_database(),
        _ACTIVITY.c.application_name == func.concat(APPLICATION_PREFIX, name),
    )


async def instances(session: AsyncSession) -> list[Instance]:
    """The instances connected now, the leader first (PostgreSQL only)."""
    class_key, object_key = LOCK_KEYS
    rows = await session.execute(
        _INSTANCES_SQL,
        {
            "skip": len(APPLICATION_PREFIX) + 1,
            "class_key": class_key,
            "object_key": object_key,
            "pattern": APPLICATION_PREFIX + "%",
        },
    )
    return [Instance(name, bool(leading)) for name, leading in rows]
