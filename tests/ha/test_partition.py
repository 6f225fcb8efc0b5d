"""The leader's lock connection is terminated by the database: it stops before anyone else leads.

Three instances in webhook mode, each on a port of its own: the standbys answer 503 there, so a
reverse proxy would send Telegram's requests to the leader, and the leader has set the webhook.

``pg_terminate_backend`` ends the leader's lock session as a network partition or a database
failover would (the advisory lock goes with it). The leader notices at once, stops receiving and
exits (status 75, for the service manager to start it again as a standby), and it does so before
a standby has bumped the epoch. A write carrying the old epoch — what a leader that had not
noticed would attempt — is then refused inside its own transaction, while the successor's epoch
writes, and ``sanad admin status`` shows the two instances left, the leader and the epoch.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import httpx
import pytest
from sqlalchemy import func, select, text

from bot.leadership.fence import LeaderFence
from bot.leadership.serve import EXIT_LEADERSHIP_LOST
from bot.services.housekeeping import Housekeeping, HousekeepingKeyring
from storage.leadership import APPLICATION_PREFIX, LOCK_KEYS, StaleEpoch
from storage.models import Housekeeping as HousekeepingRow
from storage.models import Leadership

from .conftest import TAKEOVER_SECONDS, Cluster

pytestmark = pytest.mark.postgres

_TERMINATE_LEADER = text(
    """
    SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
    JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
        AND l.classid = :class_key AND l.objid = :object_key AND l.objsubid = 2
    WHERE a.datname = current_database() AND a.application_name LIKE :pattern
    """
)


@pytest.mark.parametrize("cluster", ["webhook"], indirect=True)
async def test_terminated_leader_stops_first_and_its_epoch_is_refused(cluster: Cluster) -> None:
    deployment = cluster.deployment
    leader = await cluster.leader()
    old_epoch = await cluster.epoch()
    token = deployment.token
    assert deployment.api.world.bots[token].webhook.url == cluster.urls[leader]
    standby = next(i for i in cluster.live() if i != leader)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        assert (await http.post(cluster.urls[standby], json={})).status_code == 503

    # Which happens first: the old leader's exit, or a new epoch? The exit is stamped when the
    # process ends (the child watcher wakes its waiter, whatever else the test awaits); the epoch
    # is polled on a connection opened beforehand, each poll stamped as it begins.
    async def exit_time() -> float:
        await cluster.processes[leader].wait()
        return time.monotonic()

    async with deployment.database() as db, db.sessionmaker() as watch:
        assert await watch.scalar(select(Leadership.epoch)) == old_epoch
        await watch.rollback()
        exited = asyncio.ensure_future(exit_time())
        async with db.sessionmaker() as session, session.begin():
            terminated = (
                await session.execute(
                    _TERMINATE_LEADER,
                    {
                        "pattern": APPLICATION_PREFIX + "%",
                        "class_key": LOCK_KEYS[0],
                        "object_key": LOCK_KEYS[1],
                    },
                )
            ).all()
        assert terminated == [(True,)]
        async with asyncio.timeout(TAKEOVER_SECONDS * 5):
            while True:
                polled_at = time.monotonic()
                if await watch.scalar(select(Leadership.epoch)) != old_epoch:
                    bumped_at = polled_at
                    break
                await watch.rollback()  # a fresh snapshot for the next poll
                await asyncio.sleep(0.01)
            exited_at = await exited
    assert exited_at <= bumped_at
    assert cluster.processes[leader].returncode == EXIT_LEADERSHIP_LOST
    successor = await cluster.leader(other_than=leader)
    assert successor != leader
    new_epoch = await cluster.epoch()
    # Telegram (the local server) now posts to the successor, which answers.
    assert deployment.api.world.bots[token].webhook.url == cluster.urls[successor]
    chat = deployment.api.open_chat(7_500_000_003, "Rana", language_code="en")
    await chat.send_command("help")
    await chat.wait_for(lambda m: "/start" in (m.text or ""), timeout=10)

    keyring = HousekeepingKeyring.of_state_dir(deployment.directory / "state")
    async with deployment.database() as db:

        async def rows() -> int:
            async with db.sessionmaker() as session:
                return await session.scalar(select(func.count()).select_from(HousekeepingRow)) or 0

        def housekeeping_under(epoch: int) -> Housekeeping:
            fence = LeaderFence(db)
            fence.lead(epoch)
            return Housekeeping(db, keyring, retention=dt.timedelta(hours=24), role=fence)

        before = await rows()
        with pytest.raises(StaleEpoch):
            await housekeeping_under(old_epoch).keep_for_erasure(7_500_000_001, [11, 12])
        assert await rows() == before
        await housekeeping_under(new_epoch).keep_for_erasure(7_500_000_001, [11, 12])
        assert await rows() == before + 1

    # What the operator sees: the two instances left, the one leading, the epoch, since when.
    status = json.loads((await deployment.admin("status", "--json")).stdout)["leadership"]
    assert status["epoch"] == new_epoch
    assert len(status["instances"]) == 2
    assert [i["name"] for i in status["instances"] if i["leading"]] == [status["leader"]]
    assert status["leader"] == status["last_elected"]
    assert status["since"] is not None
