"""Three ``sanad run`` instances on one PostgreSQL database and the local Bot API server.

Each instance is a real ``sanad run`` subprocess with its own log; all three read one
configuration, so they share the state directory (the bot key, the receipt secrets and the
housekeeping keys a successor needs to erase what a dead leader left, docs/deploy.md). The
takeover time is scaled down to :data:`TAKEOVER_SECONDS` so the tests stay short; every other
delay derives from it (``bot.leadership.timings``). PostgreSQL only: without it the tests skip
with the reason, or fail under ``SANAD_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.local_api import LocalBotApi
from storage.models import Leadership
from tests.delivery.conftest import TOKEN_ENV
from tests.e2e.conftest import Deployment, api, postgres_database
from tests.support.processes import sanad_run, until

__all__ = ["api", "postgres_database"]

TAKEOVER_SECONDS = 2.0
INSTANCES = 3
RECEIVING = re.compile(r"leader\.receiving")


@dataclass
class Cluster:
    """The deployment and its running instances (index -> process, log)."""

    deployment: Deployment
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def receiving(self) -> list[int]:
        """The instances that have logged that they receive updates, alive or not."""
        return [i for i, log in enumerate(self.logs) if RECEIVING.search(log.read_text())]

    def live(self) -> list[int]:
        return [i for i, p in enumerate(self.processes) if p.returncode is None]

    async def epoch(self) -> int:
        async with self.deployment.database() as db, db.sessionmaker() as session:
            return int(await session.scalar(select(Leadership.epoch)) or 0)

    async def leader(self, *, other_than: int | None = None, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """The live instance that receives updates (waiting for one)."""
        found: list[int] = []

        async def one_leads() -> bool:
            found[:] = [i for i in self.receiving() if i in self.live() and i != other_than]
            return bool(found)

        await until(one_leads, timeout=timeout)
        return found[0]


@pytest.fixture
async def cluster(
    api: LocalBotApi, tmp_path: Path, postgres_database: str
) -> AsyncIterator[Cluster]:
    deployment = Deployment(api, tmp_path, database_url=postgres_database)
    with deployment.config.open("a") as config:
        config.write(f"\n[ha]\ntakeover_seconds = {TAKEOVER_SECONDS}\n")
    await deployment.certify_bot()
    cluster = Cluster(deployment)
    async with AsyncExitStack() as stack:
        for index in range(INSTANCES):
            log = tmp_path / f"instance-{index}.log"
            log.touch()
            process = await stack.enter_async_context(
                sanad_run(deployment.config, log, {TOKEN_ENV: deployment.token})
            )
            cluster.processes.append(process)
            cluster.logs.append(log)
        await cluster.leader(timeout=60)
        yield cluster


def seconds_since(start: float) -> float:
    return time.monotonic() - start
