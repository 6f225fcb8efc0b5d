"""Engines: one URL picks the backend; SQLite files are owner-only; every connection is set up."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.engine import Backend, Database, open_database
from storage.errors import UnsupportedDatabase
from storage.migrate import upgrade_database

from .helpers import store_opaque_report


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_sqlite_file_wal_and_directory_are_owner_only(sqlite_path: Path) -> None:
    db = open_database(f"sqlite:///{sqlite_path}")
    try:
        await upgrade_database(db)
        await store_opaque_report(db)
        wal = sqlite_path.with_name(sqlite_path.name + "-wal")
        shm = sqlite_path.with_name(sqlite_path.name + "-shm")
        assert wal.exists()
        assert shm.exists()
        assert _mode(sqlite_path.parent) == 0o700
        for path in (sqlite_path, wal, shm):
            assert _mode(path) == 0o600, path.name
    finally:
        await db.close()


async def test_existing_loose_sqlite_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "loose.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    db = open_database(f"sqlite:///{path}")
    await db.close()
    assert _mode(path) == 0o600


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        ("journal_mode", "wal"),
        ("foreign_keys", 1),
        ("secure_delete", 1),
        ("synchronous", 2),  # FULL
        ("busy_timeout", 10_000),
        ("temp_store", 2),  # MEMORY
    ],
)
async def test_every_sqlite_connection_is_configured(
    sqlite_path: Path, pragma: str, expected: object
) -> None:
    db = open_database(f"sqlite:///{sqlite_path}")
    try:
        # Two pooled connections held at once: the PRAGMAs are per connection, not per file.
        # Read through the driver, since a SQLAlchemy statement would BEGIN IMMEDIATE and the
        # second connection would wait for the first one's write lock.
        async with db.engine.connect() as first, db.engine.connect() as second:
            for connection in (first, second):
                raw = await connection.get_raw_connection()
                cursor = await raw.driver_connection.execute(f"PRAGMA {pragma}")
                assert (await cursor.fetchone())[0] == expected
                await cursor.close()
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        ("journal_mode", "wal"),
        ("foreign_keys", 1),
        ("secure_delete", 1),
        ("synchronous", 2),  # FULL: a report's receipt follows a commit that survives power loss
        ("busy_timeout", 10_000),
        ("temp_store", 2),
    ],
)
async def test_sqlite_writer_connections_are_configured_like_the_others(
    sqlite_path: Path, pragma: str, expected: object
) -> None:
    db = open_database(f"sqlite:///{sqlite_path}")
    try:
        assert db.sqlite_writer is not None
        # The transaction reports are written in: it must also BEGIN IMMEDIATE, so the PRAGMA is
        # read inside one, from the connection the group commit would use.
        observed = await db.run_write_transaction(
            lambda connection: connection.exec_driver_sql(f"PRAGMA {pragma}").scalar_one()
        )
        assert observed == expected
    finally:
        await db.close()


async def test_sqlite_write_transaction_takes_the_write_lock_at_begin(sqlite_path: Path) -> None:
    db = open_database(f"sqlite:///{sqlite_path}")
    try:
        # in_transaction() is true only once BEGIN has run: the writer issues BEGIN IMMEDIATE
        # itself rather than leaving the driver to defer it to the first write.
        began = await db.run_write_transaction(
            lambda connection: connection.connection.driver_connection.in_transaction
        )
        assert began is True
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("sqlite:///x.db", Backend.SQLITE),
        ("sqlite+aiosqlite:///x.db", Backend.SQLITE),
        ("postgresql://u@h/d", Backend.POSTGRESQL),
        ("postgresql+asyncpg://u@h/d", Backend.POSTGRESQL),
    ],
)
async def test_plain_url_picks_the_async_driver(
    url: str, backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = open_database(url)
    try:
        assert db.backend is backend
        assert db.engine.url.drivername in {"sqlite+aiosqlite", "postgresql+asyncpg"}
    finally:
        await db.close()


@pytest.mark.parametrize("url", ["mysql://u@h/d", "sqlite://", "sqlite:///:memory:", "not a url"])
def test_unsupported_or_volatile_url_is_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabase):
        open_database(url)


async def test_foreign_keys_cascade_from_report_to_wraps(db: Database) -> None:
    stored = await store_opaque_report(db)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(text("DELETE FROM reports"))
    async with db.sessionmaker() as session:
        for table in ("report_bodies", "wraps", "mailboxes"):
            count = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count == 0, table
    assert len(stored.report_id) == 16
