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
import secrets
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
from tests.webhook.test_webhook import free_loopback_port

__all__ = ["api", "postgres_database"]

TAKEOVER_SECONDS = 2.0
WEBHOOK_SECRET_ENV = "SANAD_WEBHOOK_SECRET"  # the configuration's default webhook_secret_env
INSTANCES = 3
RECEIVING = re.compile(r"leader\.receiving")
READY = re.compile(r"standby\.ready")


@dataclass
class Cluster:
    """The deployment and its running instances (index -> process, log)."""

    deployment: Deployment
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # webhook mode: each instance's webhook URL

    def receiving(self) -> list[int]:
        """The instances that have logged that they receive updates, alive or not."""
        return [i for i, log in enumerate(self.logs) if RECEIVING.search(log.read_text())]

    def ready(self) -> list[int]:
        """The instances that have come up, able to take over (and the leader among them)."""
        return [i for i, log in enumerate(self.logs) if READY.search(log.read_text())]

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


async def _start(deployment: Deployment, *, webhook: bool) -> AsyncIterator[Cluster]:
    """Start :data:`INSTANCES` instances; with ``webhook``, each listens on a port of its own
    (one machine), with its own ``webhook_url``, which it registers when it leads."""
    with deployment.config.open("a") as config:
        config.write(f"\n[ha]\ntakeover_seconds = {TAKEOVER_SECONDS}\n")
    await deployment.certify_bot()
    cluster = Cluster(deployment)
    env = {TOKEN_ENV: deployment.token, WEBHOOK_SECRET_ENV: secrets.token_hex(16)}
    async with AsyncExitStack() as stack:
        for index in range(INSTANCES):
            config = deployment.config
            if webhook:
                port = free_loopback_port()
                url = f"http://127.0.0.1:{port}/telegram/hook"
                config = deployment.directory / f"config-{index}.toml"
                config.write_text(
                    deployment.config.read_text().replace(
                        "[telegram]\n",
                        f'[telegram]\nmode = "webhook"\nwebhook_url = "{url}"\n'
                        f"webhook_port = {port}\n",
                        1,
                    )
                )
                cluster.urls.append(url)
            log = deployment.directory / f"instance-{index}.log"
            log.touch()
            cluster.processes.append(await stack.enter_async_context(sanad_run(config, log, env)))
            cluster.logs.append(log)
        await cluster.leader(timeout=60)

        async def all_ready() -> bool:
            return len(cluster.ready()) == INSTANCES

        # A standby still starting could neither take over nor answer on its webhook port.
        await until(all_ready, timeout=60)
        yield cluster


@pytest.fixture
async def cluster(
    request: pytest.FixtureRequest, api: LocalBotApi, tmp_path: Path, postgres_database: str
) -> AsyncIterator[Cluster]:
    """Three instances polling for updates, or in webhook mode (as behind a reverse proxy) with
    ``@pytest.mark.parametrize("cluster", ["webhook"], indirect=True)``."""
    deployment = Deployment(api, tmp_path, database_url=postgres_database)
    webhook = getattr(request, "param", "polling") == "webhook"
    async for running in _start(deployment, webhook=webhook):
        yield running
