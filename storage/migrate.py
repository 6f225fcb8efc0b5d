"""Applying schema migrations from code (``sanad run``, ``sanad db upgrade``) and in tests.

The Alembic scripts live in ``storage/migrations`` inside the package and are located from this
file, so an installed wheel migrates without the source checkout or an ``alembic.ini``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import Backend, Database, explain_failure, open_database
from storage.errors import DatabaseUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
#: The advisory lock held while migrating on PostgreSQL ("Sana", "d-mg").
MIGRATION_LOCK = {"a": 0x53616E61, "b": 0x642D6D67}


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations (for upgrades and tooling)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade_on(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade_database(db: Database, revision: str = "head") -> None:
    """Apply pending migrations up to ``revision`` in one transaction; a no-op when up to date.

    Raises :class:`DatabaseUnavailable` if the database cannot be reached or the migration fails,
    saying why when :func:`storage.engine.explain_failure` recognises it (the driver's message,
    which may quote SQL, stays in ``__cause__``).
    """
    try:
        async with db.engine.begin() as connection:
            if db.backend is Backend.POSTGRESQL:
                # Several instances may start at once (bot.leadership): one migrates, the others
                # wait here, then find nothing left to do. Freed at commit.
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:a, :b)"), MIGRATION_LOCK
                )
            await connection.run_sync(_upgrade_on, revision)
    except (OSError, SQLAlchemyError) as exc:
        explained = explain_failure(db.engine.url, exc)
        raise explained or DatabaseUnavailable(
            "the database could not be opened or migrated"
        ) from exc


async def upgrade(url: str, revision: str = "head") -> None:
    """Open the database named by ``url``, apply pending migrations, close it."""
    db = open_database(url)
    try:
        await upgrade_database(db, revision)
    finally:
        await db.close()
