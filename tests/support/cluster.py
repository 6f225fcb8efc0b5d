"""Several ``sanad run`` instances on one PostgreSQL database and the local Bot API server.

Each instance is a real ``sanad run`` subprocess with its own log; all read one configuration,
so they share the state directory (the bot key, the receipt secrets and the housekeeping keys a
successor needs to erase what a dead leader left, docs/deploy.md). The takeover time is scaled
down (:data:`TAKEOVER_SECONDS` by default) so tests stay short; every other delay derives from
it (``bot.leadership.timings``). Used by tests/ha and the soak on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from sqlalchemy import select

from storage.models import Leadership
from tests.delivery.conftest import TOKEN_ENV
from tests.e2e.conftest import Deployment
from tests.support.processes import sanad_run, until
from tests.webhook.test_webhook import free_loopback_port

TAKEOVER_SECONDS = 2.0
WEBHOOK_SECRET_ENV = "SANAD_WEBHOOK_SECRET"  # the configuration's default webhook_secret_env
INSTANCES = 3
RECEIVING = re.compile(r"leader\.receiving")
READY = re.compile(r"standby\.ready")


class Cluster:
    """The deployment and its instances, started one by one (index -> process, log)."""

    def __init__(self, deployment: Deployment, stack: AsyncExitStack, *, webhook: bool) -> None:
        self.deployment = deployment
        self._stack = stack
        self._webhook = webhook
        self._env = {TOKEN_ENV: deployment.token, WEBHOOK_SECRET_ENV: secrets.token_hex(16)}
        self.processes: list[asyncio.subprocess.Process] = []
        self.logs: list[Path] = []
        self.urls: list[str] = []  # webhook mode: each instance's webhook URL
        self._starting = asyncio.Lock()  # one start at a time: an index is a log and a process

    async def start_instance(self) -> int:
        """Start one more ``sanad run`` (SIGKILLed at the end of the test if still alive); its
        index. In webhook mode it listens on a port of its own, with its own ``webhook_url``."""
        async with self._starting:
            return await self._start_instance()

    async def _start_instance(self) -> int:
        index = len(self.processes)
        deployment = self.deployment
        config = deployment.config
        if self._webhook:
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
            self.urls.append(url)
        log = deployment.directory / f"instance-{index}.log"
        log.touch()
        process = await self._stack.enter_async_context(sanad_run(config, log, self._env))
        self.processes.append(process)
        self.logs.append(log)
        return index

    async def wait_ready(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Until every live instance has come up, able to take over."""

        async def all_ready() -> bool:
            return set(self.live()) <= set(self.ready())

        await until(all_ready, timeout=timeout)

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

    async def leader_name(self) -> str | None:
        """The registered name of the instance that bumped the epoch last."""
        async with self.deployment.database() as db, db.sessionmaker() as session:
            return await session.scalar(select(Leadership.leader))

    async def leader(self, *, other_than: int | None = None, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """The live instance that receives updates (waiting for one)."""
        found: list[int] = []

        async def one_leads() -> bool:
            found[:] = [i for i in self.receiving() if i in self.live() and i != other_than]
            return bool(found)

        await until(one_leads, timeout=timeout)
        return found[0]


@asynccontextmanager
async def running_cluster(
    deployment: Deployment,
    *,
    webhook: bool = False,
    instances: int = INSTANCES,
    takeover_seconds: float = TAKEOVER_SECONDS,
) -> AsyncIterator[Cluster]:
    """Start ``instances`` instances with ``[ha] takeover_seconds``, entered once one leads and
    all are ready; with ``webhook``, each listens on a port of its own (one machine), with its
    own ``webhook_url``, which it registers when it leads. Every instance still alive is
    SIGKILLed on leaving."""
    with deployment.config.open("a") as config:
        config.write(f"\n[ha]\ntakeover_seconds = {takeover_seconds}\n")
    await deployment.certify_bot()
    async with AsyncExitStack() as stack:
        cluster = Cluster(deployment, stack, webhook=webhook)
        for _ in range(instances):
            await cluster.start_instance()
        await cluster.leader(timeout=60)
        # A standby still starting could neither take over nor answer on its webhook port.
        await cluster.wait_ready()
        yield cluster


