"""A delivery the killed leader was sending is sent again by its successor at the takeover.

A claim on an outbox row names its owner by the instance's registered name (the one
``sanad admin status`` lists and the epoch records), so the successor knows the dead leader's
claims for what they are and releases them at once, in a write fenced by its new epoch, instead of
leaving them for the ten minutes of the claim's lease.

The leader is made to hold a claim for sure: it is alone when the report comes, and Telegram
never answers its ``sendDocument`` (a call that did not take effect, so DESIGN.md I8 allows no
repeat here). The standbys come back, the leader is SIGKILLed, and the file must reach the
caseworker within the takeover bound — once.
"""

from __future__ import annotations

import secrets
import time

import pytest
from sqlalchemy import select

from bot.local_api import Fault
from storage.models import DeliveryStatus, OutboxEntry
from tests.handlers.conftest import Reporter
from tests.support.processes import kill, stop, until

from .conftest import TAKEOVER_SECONDS, Cluster
from .test_failover import one_report, reporter_chat

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: From the kill to the file in the caseworker's chat: the takeover (under twice the takeover
#: time, test_failover), the successor's next forward run (0.2-0.3 s), with room for a loaded
#: machine. The claim's lease is 600 s.
DELIVERY_BOUND = TAKEOVER_SECONDS * 10


async def the_delivery(cluster: Cluster) -> OutboxEntry | None:
    """The one outbox row of the test."""
    async with cluster.deployment.database() as db, db.sessionmaker() as session:
        return await session.scalar(select(OutboxEntry))


async def test_the_killed_leaders_delivery_goes_at_the_takeover(cluster: Cluster) -> None:
    deployment = cluster.deployment
    caseworker = deployment.api.open_chat(5_500_000_000 + secrets.randbelow(10**8), "Case")
    await deployment.enroll_and_approve(caseworker, "ha-claims")
    leader = await cluster.leader()
    for standby in [i for i in cluster.live() if i != leader]:
        assert await stop(cluster.processes[standby]) == 0

    deployment.api.faults.inject("sendDocument", sequence=[Fault.hang()])
    sends = deployment.calls["sendDocument"]
    references: list[str] = []
    await one_report(Reporter(reporter_chat(cluster)), references)
    caption = f"{references[0]} #0"

    # The leader claimed the row and is waiting on Telegram, which will never answer.
    await deployment.calls.wait_for("sendDocument", sends + 1, timeout=30)
    row = await the_delivery(cluster)
    assert row is not None
    assert row.claimed_by is not None
    assert row.claimed_by == await cluster.leader_name(), "a claim names its owner's identity"

    for _ in range(2):
        await cluster.start_instance()
    await cluster.wait_ready()
    killed_at = time.monotonic()
    await kill(cluster.processes[leader])

    def delivered() -> list[str]:
        return [m.caption or "" for m in caseworker.bot_messages() if m.document is not None]

    async def arrived() -> bool:
        return caption in delivered()

    await until(arrived, timeout=DELIVERY_BOUND)
    took = time.monotonic() - killed_at
    await cluster.leader(other_than=leader)

    async def recorded() -> bool:
        row = await the_delivery(cluster)
        return row is not None and row.status is DeliveryStatus.SENT

    await until(recorded, timeout=30)  # settled: no instance sends it again from here on
    assert delivered().count(caption) == 1, "the unanswered send took no effect: no repeat"
    assert took < DELIVERY_BOUND
