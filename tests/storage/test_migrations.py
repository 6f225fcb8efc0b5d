"""Migrations: the packaged scripts build exactly the schema of the models, on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

import storage
from storage.engine import Database
from storage.migrate import MIGRATIONS_DIR, alembic_config, upgrade, upgrade_database
from storage.models import Base


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_upgrade_twice_is_a_no_op(db: Database) -> None:
    await upgrade_database(db)
    async with db.engine.connect() as connection:
        versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert versions == [(head,)]
    assert set(Base.metadata.tables) <= tables


def test_migrations_ship_inside_the_package() -> None:
    # Located from the package, not the checkout, so an installed wheel can migrate itself.
    assert MIGRATIONS_DIR.parent == Path(storage.__file__).resolve().parent
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()


def test_every_migration_says_why() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    for revision in scripts.walk_revisions():
        assert revision.module.__doc__ is not None
        assert "Why:" in revision.module.__doc__, revision.revision
        assert "<say why" not in revision.module.__doc__, revision.revision


async def test_upgrade_by_url_creates_a_migrated_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "sanad.db"
    await upgrade(f"sqlite:///{path}")
    assert path.is_file()
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    tables = {name for (name,) in rows}
    assert set(Base.metadata.tables) | {"alembic_version"} <= tables
