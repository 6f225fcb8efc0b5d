"""``/healthz``: 200 only when the database answers, the scheduler runs and Telegram was heard."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.health import TELEGRAM_STALE_SECONDS
from bot.metrics import Metrics
from storage.engine import Database, open_database
from tests.storage.conftest import postgres_schema

from .conftest import FakeClock, closed_port, served

ALL_FINE = {"database": True, "scheduler": True, "telegram": True}


async def _healthz(http: httpx.AsyncClient, url: str) -> tuple[int, dict[str, object]]:
    response = await http.get(f"{url}/healthz")
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


async def test_healthz_is_healthy_with_a_real_sqlite_database(
    sqlite_database: Database, metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    async with served(sqlite_database, metrics, clock) as url:
        status, body = await _healthz(http, url)
    assert status == 200
    assert body == {
        **ALL_FINE,
        "healthy": True,
        "telegram_seconds_since_contact": None,
        "role": "leader",
    }


async def test_healthz_is_unhealthy_when_the_sqlite_directory_is_removed(
    tmp_path: Path, metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    state = tmp_path / "state"
    database = open_database(f"sqlite:///{state / 'sanad.sqlite3'}")
    shutil.rmtree(state)  # the volume is gone before the first connection
    try:
        async with served(database, metrics, clock) as url:
            status, body = await _healthz(http, url)
    finally:
        await database.close()
    assert status == 503
    assert body["healthy"] is False
    assert body["database"] is False
    assert body["scheduler"] is True


async def test_healthz_is_unhealthy_when_the_postgresql_port_is_closed(
    metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    database = open_database(f"postgresql://postgres@127.0.0.1:{closed_port()}/test")
    try:
        async with served(database, metrics, clock) as url:
            status, body = await _healthz(http, url)
    finally:
        await database.close()
    assert status == 503
    assert body["database"] is False


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never says a word; yields its port."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_healthz_gives_up_on_a_silent_database_within_its_timeout(
    silent_server: int, metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    # asyncpg itself would wait 60 seconds for the server's greeting.
    database = open_database(f"postgresql://postgres@127.0.0.1:{silent_server}/test")
    try:
        async with served(database, metrics, clock, database_timeout=0.3) as url:
            started = time.monotonic()
            status, body = await _healthz(http, url)
            elapsed = time.monotonic() - started
    finally:
        await database.close()
    assert status == 503
    assert body["database"] is False
    assert elapsed < 2.0


@pytest.mark.postgres
async def test_healthz_is_healthy_with_a_real_postgresql_database(
    metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    async with postgres_schema() as schema:
        database = schema.open()
        try:
            async with served(database, metrics, clock) as url:
                status, body = await _healthz(http, url)
        finally:
            await database.close()
    assert status == 200
    assert body["database"] is True


async def test_healthz_is_unhealthy_when_the_scheduler_has_stopped(
    sqlite_database: Database, metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    async with served(sqlite_database, metrics, clock, scheduler_running=lambda: False) as url:
        status, body = await _healthz(http, url)
    assert status == 503
    assert body["scheduler"] is False
    assert body["database"] is True


async def test_healthz_turns_unhealthy_when_telegram_goes_quiet_and_recovers_on_contact(
    sqlite_database: Database, metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    async with served(sqlite_database, metrics, clock) as url:
        # No contact yet: fine while the endpoint is younger than the staleness limit.
        clock.advance(TELEGRAM_STALE_SECONDS)
        assert (await _healthz(http, url))[0] == 200
        clock.advance(1)
        status, body = await _healthz(http, url)
        assert (status, body["telegram"], body["telegram_seconds_since_contact"]) == (
            503, False, None,
        )

        metrics.telegram_contact()
        clock.advance(12.34)
        status, body = await _healthz(http, url)
        assert (status, body["telegram"], body["telegram_seconds_since_contact"]) == (
            200, True, 12.3,
        )

        clock.advance(TELEGRAM_STALE_SECONDS)
        status, body = await _healthz(http, url)
        assert (status, body["telegram"]) == (503, False)
