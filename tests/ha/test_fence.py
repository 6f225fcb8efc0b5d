"""The fencing epoch and the update ids, against a real PostgreSQL schema (no processes).

A successor's epoch makes every check of an older one fail inside its own transaction; an update
id is taken once; the table of ids keeps only the latest; and whose draft was lost is remembered
in memory only, told once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from bot.jobs.purge import Purger, RetentionSettings
from bot.leadership.fence import LeaderFence
from bot.leadership.lost_drafts import LostDrafts
from bot.leadership.serve import StandbyWebhook
from bot.services.housekeeping import Housekeeping, HousekeepingKeyring
from storage.engine import Database
from storage.leadership import KEEP_UPDATES, PRUNE_EVERY, StaleEpoch
from storage.models import Leadership, RecentUpdate
from tests.storage.conftest import pg_db

# The migrated PostgreSQL schema fixture.
__all__ = ["pg_db"]

RETENTION = RetentionSettings(
    closed_report=dt.timedelta(days=90),
    mailbox=dt.timedelta(days=90),
    unassigned_alert=dt.timedelta(days=7),
)


async def elect(db: Database) -> LeaderFence:
    """A fence leading under a freshly bumped epoch, as the elector makes one."""
    async with db.sessionmaker() as session, session.begin():
        epoch = await session.scalar(
            update(Leadership).values(epoch=Leadership.epoch + 1).returning(Leadership.epoch)
        )
    fence = LeaderFence(db)
    fence.lead(int(epoch or 0))
    return fence


@pytest.mark.postgres
async def test_an_update_is_taken_once(pg_db: Database) -> None:
    fence = await elect(pg_db)
    assert await fence.take_update(41)
    assert not await fence.take_update(41)
    successor = await elect(pg_db)
    assert not await successor.take_update(41)  # handled before the takeover: not again
    assert await successor.take_update(42)


@pytest.mark.postgres
async def test_a_superseded_leader_takes_nothing_and_stops_leading(pg_db: Database) -> None:
    stale = await elect(pg_db)
    lost: list[bool] = []
    stale.on_lost(lambda: lost.append(True))
    successor = await elect(pg_db)
    assert not await stale.take_update(7)
    assert not stale.leading()
    assert lost == [True]
    assert await successor.take_update(7)


@pytest.mark.postgres
async def test_housekeeping_and_purge_under_a_stale_epoch_are_refused(
    pg_db: Database, tmp_path: Path
) -> None:
    keyring = HousekeepingKeyring(tmp_path / "housekeeping")
    (tmp_path / "housekeeping").mkdir(mode=0o700)
    stale = await elect(pg_db)
    stale_housekeeping = Housekeeping(pg_db, keyring, retention=dt.timedelta(hours=24), role=stale)
    await stale_housekeeping.keep_for_erasure(7_500_000_002, [1, 2])  # still the leader
    successor = await elect(pg_db)
    with pytest.raises(StaleEpoch):
        await stale_housekeeping.keep_for_erasure(7_500_000_002, [3])
    with pytest.raises(StaleEpoch):
        await Purger(pg_db, stale_housekeeping, RETENTION, role=stale).run()
    housekeeping = Housekeeping(pg_db, keyring, retention=dt.timedelta(hours=24), role=successor)
    await Purger(pg_db, housekeeping, RETENTION, role=successor).run()


@pytest.mark.postgres
async def test_only_the_latest_update_ids_are_kept(pg_db: Database) -> None:
    fence = await elect(pg_db)
    latest = 3 * KEEP_UPDATES // PRUNE_EVERY * PRUNE_EVERY
    for update_id in (1, latest - KEEP_UPDATES - 1, latest - KEEP_UPDATES, latest - 1, latest):
        assert await fence.take_update(update_id)
    async with pg_db.sessionmaker() as session:
        kept = set(await session.scalars(select(RecentUpdate.update_id)))
    assert kept == {latest - KEEP_UPDATES, latest - 1, latest}


def test_a_lost_draft_is_told_once_and_only_to_its_chat() -> None:
    now = [0.0]
    lost = LostDrafts(keep=60.0, limit=2, clock=lambda: now[0])
    lost.note(101)
    assert not lost.claim(102)
    assert lost.claim(101)
    assert not lost.claim(101)
    lost.note(103)
    now[0] = 61.0
    assert not lost.claim(103)  # remembered no longer than the erase target that told of it
    for chat in (1, 2, 3):
        lost.note(chat)
    assert len(lost) == 2  # bounded: the oldest goes first
    assert not lost.claim(1)


async def test_a_standby_answers_503_on_the_webhook_port(unused_tcp_port: int) -> None:
    standby = StandbyWebhook("127.0.0.1", unused_tcp_port)
    standby.start()
    try:
        async with httpx.AsyncClient() as http:
            response = await http.post(f"http://127.0.0.1:{unused_tcp_port}/hook", json={})
        assert response.status_code == 503
    finally:
        await standby.stop()
