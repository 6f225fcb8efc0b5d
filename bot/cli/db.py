"""Database commands: ``sanad db upgrade``."""

from __future__ import annotations

import asyncio

import typer

from bot.cli.config_cmd import DEFAULT_CONFIG_PATH, ConfigOption, load_settings

db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command(config: ConfigOption = DEFAULT_CONFIG_PATH) -> None:
    """Apply pending schema migrations to the database named by ``database.url``.

    Safe to run at any time: an up-to-date database is left as it is. ``sanad run`` does the same
    at start. A failure leaves the schema as it was (one transaction) and is one line on stderr.
    """
    from storage.migrate import upgrade  # Alembic and SQLAlchemy: only this command needs them

    settings = load_settings(config)
    asyncio.run(upgrade(settings.database.url))
    typer.echo(f"database is up to date ({settings.database.describe()})")
