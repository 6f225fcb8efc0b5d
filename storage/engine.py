"""Opening the database: one URL chooses SQLite (embedded default) or PostgreSQL (DESIGN.md §5).

``open_database(url)`` returns a :class:`Database`: the async engine and a session factory with
``expire_on_commit=False``. The same models, queries and migrations run on both backends.

SQLite is set up for Sanad's invariants on every new connection, not once per file, because
PRAGMAs other than ``journal_mode`` are per connection:

- ``secure_delete=ON`` so deleted rows are overwritten with zeros (I6);
- ``foreign_keys=ON`` so deleting a report really cascades to its bodies and wraps;
- WAL with ``synchronous=FULL`` so a committed report survives power loss, not only a crash (I8);
- a busy timeout so concurrent writers wait instead of failing;
- ``temp_store=MEMORY`` so sorts and VACUUM do not spill sealed pages into temporary files.

Sanad issues ``BEGIN IMMEDIATE`` itself rather than letting the sqlite3 driver defer it: a
transaction that reads and then writes would otherwise fail with SQLITE_BUSY when another writer
committed in between, and SQLite allows one writer at a time anyway.

The file and its directory are created owner-only (0600 / 0700) before SQLite opens them. SQLite
creates ``-wal`` and ``-shm`` with the permissions of the database file itself, so they follow.
"""

from __future__ import annotations

import enum
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from storage.errors import StorageError, UnsupportedDatabase

SQLITE_BUSY_TIMEOUT_MS = 10_000

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA temp_store=MEMORY",
)


class Backend(enum.StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class Database:
    """An open database: the engine, a session factory, and which backend it is.

    Use one session per unit of work (``async with db.sessionmaker() as s, s.begin(): ...``) and
    never share a session between tasks. On SQLite every transaction takes the write lock at
    BEGIN, so a task must not hold two sessions at once: the second would wait on the first.
    """

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    backend: Backend
    sqlite_path: Path | None = None

    async def close(self) -> None:
        """Close every pooled connection; the object must not be used afterwards."""
        await self.engine.dispose()

    async def run_outside_transaction(self, sql: str) -> Sequence[Any] | None:
        """Run one maintenance statement in autocommit mode and return its first row, if any.

        For statements that refuse to run inside a transaction (``VACUUM``, SQLite's
        ``wal_checkpoint``). The statement goes to the driver connection directly, because
        switching a pooled connection to SQLAlchemy's AUTOCOMMIT level and back would re-enable
        the sqlite3 driver's own transaction handling that this module turns off. Raises
        :class:`StorageError` if the database refuses it.
        """
        try:
            async with self.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                if self.backend is Backend.SQLITE:
                    cursor = await driver.execute(sql)
                    row: Sequence[Any] | None = await cursor.fetchone()
                    await cursor.close()
                    return row
                return await driver.fetchrow(sql)  # type: ignore[no-any-return]
        except (OSError, sqlite3.Error, asyncpg.PostgresError, SQLAlchemyError) as exc:
            raise StorageError("a database maintenance statement was refused") from exc


def _normalise(url: str) -> tuple[URL, Backend]:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UnsupportedDatabase("the database URL cannot be parsed") from exc
    backend_name = parsed.get_backend_name()
    if backend_name == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # I8: an in-memory database would lose every committed report on exit.
            raise UnsupportedDatabase("a SQLite database URL must name a file")
        return parsed.set(drivername="sqlite+aiosqlite"), Backend.SQLITE
    if backend_name == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg"), Backend.POSTGRESQL
    raise UnsupportedDatabase("the database URL must start with sqlite:// or postgresql://")


def _prepare_sqlite_file(path: Path) -> None:
    """Create the directory (0700) and the database file (0600) before SQLite does."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # An existing file made under a looser umask is tightened too: SQLite copies these
        # permissions onto -wal and -shm when it (re)creates them.
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            sidecar.chmod(0o600)


def _configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take BEGIN away from the driver; _begin_immediate below issues it (see module docstring).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def open_database(url: str, *, connect_args: Mapping[str, Any] | None = None) -> Database:
    """Open the database named by ``url`` (``sqlite:///path`` or ``postgresql://...``).

    The plain scheme is enough: the async driver (aiosqlite, asyncpg) is chosen here. For SQLite
    the file and its directory are created owner-only if missing. ``connect_args`` go to the
    driver unchanged (tests use it to give each PostgreSQL run its own ``search_path``). Nothing
    connects until first use; raises :class:`UnsupportedDatabase` for any other URL.
    """
    parsed, backend = _normalise(url)
    kwargs: dict[str, Any] = {"connect_args": dict(connect_args or {})}
    sqlite_path: Path | None = None
    if backend is Backend.SQLITE:
        sqlite_path = Path(parsed.database or "").absolute()  # never empty: see _normalise
        _prepare_sqlite_file(sqlite_path)
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(parsed, **kwargs)
    if backend is Backend.SQLITE:
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    return Database(
        engine=engine,
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
        backend=backend,
        sqlite_path=sqlite_path,
    )
