"""``sanad local-api``: the built-in Bot API server in place of Telegram, for a real deployment."""

from __future__ import annotations

import typer

from bot.cli.config_cmd import DEFAULT_CONFIG_PATH, ConfigOption, load_settings
from bot.cli.try_cmd import (
    DEFAULT_HOST,
    PageHostOption,
    PagePortOption,
    ReporterLanguageOption,
)


def register(app: typer.Typer) -> None:
    """Add ``local-api`` to the main application."""
    app.command("local-api")(local_api)


def local_api(
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    host: PageHostOption = DEFAULT_HOST,
    port: PagePortOption = 0,
    reporter_language: ReporterLanguageOption = "ar",
) -> None:
    """Stand in for Telegram on this computer, for the deployment's own bot.

    Serves the Bot API at telegram.api_base_url (http://127.0.0.1:PORT) for the configured token.
    A web page plays a reporter and a caseworker, files and voice notes included.
    Start the bot with `sanad run` and the same configuration file.
    Chats and files live in memory only; Ctrl-C stops it.
    """
    # Imported here: the server and page load tornado and the bot's modules; --help must not.
    from bot.try_mode.local_telegram import run_local_api

    settings = load_settings(config)

    def announce(api_url: str, page_url: str) -> None:
        typer.echo(f"Bot API for the bot of {config}: {api_url}")
        typer.echo(f"Page: {page_url}")
        typer.echo(f"Start the bot with: sanad run --config {config}")
        typer.echo("Ctrl-C stops this server; its chats and files are kept in memory only.")

    run_local_api(settings, host, port, announce, reporter_language=reporter_language)
