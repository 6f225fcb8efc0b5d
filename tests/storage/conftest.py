"""Fixtures for storage tests: every test that takes ``db`` runs on a SQLite file and on PostgreSQL.

The PostgreSQL variant runs in a schema of its own, created for the test and dropped afterwards
(``search_path`` set per connection), so parallel runs on one server never meet. Where the server
is unreachable those variants skip and say why.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from tests.support.postgres import postgres_unreachable

POSTGRES_URL = os.environ.get(
    "SANAD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TODAY = dt.date(2025, 3, 14)
NOW = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)


def _plain_postgres_dsn() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin_connection() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(_plain_postgres_dsn(), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        postgres_unreachable(f"PostgreSQL not reachable at {make_url(POSTGRES_URL)!r}: {exc}")


class PostgresSchema:
    """A throwaway schema; :meth:`open` gives a Database whose connections all live in it."""

    def __init__(self, admin: asyncpg.Connection) -> None:
        self.admin = admin
        self.name = f"sanad_test_{secrets.token_hex(6)}"

    def open(self) -> Database:
        return open_database(
            POSTGRES_URL, connect_args={"server_settings": {"search_path": self.name}}
        )


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[PostgresSchema]:
    """Create a schema for one test and drop it afterwards; skips if PostgreSQL is unreachable."""
    admin = await _admin_connection()
    schema = PostgresSchema(admin)
    await admin.execute(f'CREATE SCHEMA "{schema.name}"')
    try:
        yield schema
    finally:
        await admin.execute(f'DROP SCHEMA "{schema.name}" CASCADE')
        await admin.close()


@pytest.fixture
async def pg_schema() -> AsyncIterator[PostgresSchema]:
    async with postgres_schema() as schema:
        yield schema


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    # A directory that does not exist yet, so the engine has to create it (owner-only).
    return tmp_path / "data" / "sanad.db"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, sqlite_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: a SQLite file or a fresh PostgreSQL schema."""
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            database = open_database(f"sqlite:///{sqlite_path}")
        else:
            database = (await stack.enter_async_context(postgres_schema())).open()
        stack.push_async_callback(database.close)
        await upgrade_database(database)
        yield database


@pytest.fixture
async def pg_db() -> AsyncIterator[Database]:
    """A migrated, empty PostgreSQL schema only, for what SQLite has no counterpart of (row and
    advisory locks between concurrent transactions)."""
    async with postgres_schema() as schema:
        database = schema.open()
        try:
            await upgrade_database(database)
            yield database
        finally:
            await database.close()


@pytest.fixture
async def sqlite_db(sqlite_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite file only, for properties of the file itself."""
    database = open_database(f"sqlite:///{sqlite_path}")
    try:
        await upgrade_database(database)
        yield database
    finally:
        await database.close()
