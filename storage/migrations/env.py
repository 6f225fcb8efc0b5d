"""Alembic environment for Sanad: runs migrations on a connection handed over by
``storage.migrate`` (the usual path), or opens the configured URL through ``storage.engine`` so
SQLite gets the same owner-only file and PRAGMAs as the running bot.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from storage.engine import open_database
from storage.models import Base


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_url(url: str) -> None:
    db = open_database(url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(_run_on)
    finally:
        await db.close()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline SQL generation is not supported; run against a database")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or use storage.migrate")
    asyncio.run(_run_on_url(url))


_main()
