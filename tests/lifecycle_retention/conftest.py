"""Fixtures for retention, purge, housekeeping and audit tests.

``db`` is the storage tests' fixture: each test taking it runs on a SQLite file and on a fresh
PostgreSQL schema. Keys are real (libsodium), the housekeeping keyring is a real private
directory, and the clock is a value the test moves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.config import load_config
from bot.config.token import BotToken
from bot.local_api import LocalBotApi
from bot.runtime import Runtime
from bot.services.housekeeping import Housekeeping, HousekeepingKeyring
from storage.engine import Database
from tests.storage.conftest import NOW, TODAY, db, pg_schema, sqlite_db, sqlite_path
from tests.support.deployment import make_deployment

__all__ = ["NOW", "TODAY", "db", "pg_schema", "sqlite_db", "sqlite_path"]

App = Application[Any, Any, Any, Any, Any, Any]


class Clock:
    """A settable UTC clock: ``clock()`` is now, ``clock.advance(...)`` moves it."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keyring(tmp_path: Path) -> HousekeepingKeyring:
    """A keyring inside a private secrets directory, as the server secrets leave it."""
    secrets_dir = tmp_path / "state" / "secrets"
    secrets_dir.mkdir(mode=0o700, parents=True)
    return HousekeepingKeyring(secrets_dir / "housekeeping")


@pytest.fixture
def housekeeping(db: Database, keyring: HousekeepingKeyring, clock: Clock) -> Housekeeping:
    return Housekeeping(db, keyring, retention=dt.timedelta(hours=24), clock=clock)


@asynccontextmanager
async def bot_as_run(api: LocalBotApi, folder: Path) -> AsyncIterator[tuple[Runtime, App]]:
    """The runtime and application ``sanad run`` builds, on a SQLite file in ``folder`` with a
    certified bot, prepared as ``post_init`` prepares it (not polling yet); closed on leaving."""
    config = load_config(make_deployment(api, folder, limits={}).config_path)
    runtime = Runtime.open(config)
    application = build_application(config, BotToken(api.add_bot()), runtime)
    await runtime.prepare()  # run_polling's post_init
    try:
        yield runtime, application
    finally:
        await runtime.close()
