"""Fixtures for the health endpoint: a clock, a migrated SQLite file, and a served endpoint."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.bot_identity import certify_bot
from bot.health import HealthChecks, HealthServer
from bot.metrics import Metrics
from crypto.keys import ORG_SIGNING_PREFIX, Ed25519SigningKey, X25519SecretKey
from storage.engine import Database, open_database
from storage.migrate import upgrade_database

# 2025-03-14 12:00:00 UTC, on the hour, so tests know where the hourly publication falls.
ON_THE_HOUR = 1_741_953_600.0


class FakeClock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, now: float = ON_THE_HOUR) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def metrics(clock: FakeClock) -> Metrics:
    return Metrics(clock=clock)


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite file in a directory of its own."""
    database = open_database(f"sqlite:///{tmp_path / 'state' / 'sanad.sqlite3'}")
    try:
        await upgrade_database(database)
        yield database
    finally:
        await database.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def served(
    database: Database,
    metrics: Metrics,
    clock: FakeClock,
    *,
    scheduler_running: Callable[[], bool] = lambda: True,
    database_timeout: float = 2.0,
) -> AsyncIterator[str]:
    """The endpoint for ``database`` on a free loopback port; yields its base URL."""
    checks = HealthChecks(
        database,
        scheduler_running=scheduler_running,
        metrics=metrics,
        clock=clock,
        database_timeout=database_timeout,
    )
    server = HealthServer(checks, metrics)
    server.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


def config_data(state_dir: Path, **health: object) -> dict[str, Any]:
    """A configuration with the fixed keys, a state directory, and ``[health]`` as given.

    The state directory holds a bot key certified by the configuration's organisation key, as
    ``sanad admin certify-bot`` leaves it: without one the bot does not start (I9).
    """
    organisation = Ed25519SigningKey.generate()
    certify_bot(state_dir, organisation)
    return {
        "telegram": {"token_env": "SANAD_TEST_TOKEN"},
        "organisation": {
            "signing_public_key": organisation.public_key.to_text(ORG_SIGNING_PREFIX),
            "recovery_public_key": X25519SecretKey.generate().public_key.to_text(),
        },
        "server": {"state_dir": str(state_dir)},
        "health": dict(health),
    }
