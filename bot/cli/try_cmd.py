"""``sanad try``: a local sandbox with a web chat, no configuration and no token needed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from bot.lifecycle import hold_stop_signals

DEFAULT_HOST = "127.0.0.1"

# The page's options, shared with ``sanad local-api``, which serves the same page.
PageHostOption = Annotated[
    str,
    typer.Option("--host", help="Loopback address for the page (other addresses are refused)."),
]
PagePortOption = Annotated[
    int,
    typer.Option("--port", min=0, max=65535, help="Port for the page; 0 picks a free one."),
]
ReporterLanguageOption = Annotated[
    Literal["ar", "fr", "en"],
    typer.Option("--reporter-language", help="Language of the simulated reporter's phone."),
]


def register(app: typer.Typer) -> None:
    """Add ``try`` to the main application."""
    app.command("try")(try_sandbox)


def try_sandbox(
    host: PageHostOption = DEFAULT_HOST,
    port: PagePortOption = 0,
    reporter_language: ReporterLanguageOption = "ar",
) -> None:
    """Try Sanad on this computer: the real bot against a built-in Bot API server.

    A web page shows a reporter's and a caseworker's chat side by side.
    Keys, database and opened files live in a temporary folder, deleted on Ctrl-C.
    No token and no configuration needed; a demonstration, whose keys protect nothing.
    """
    # First: a stop signal from here on is a clean stop, during the heavy imports too.
    hold_stop_signals()
    # Imported here: the sandbox starts the whole bot; other commands must not pay for it.
    from bot.try_mode import run_sandbox

    def announce(url: str, folder: Path) -> None:
        typer.echo(f"Sanad sandbox (a demonstration) is ready: {url}")
        typer.echo(f"Its keys and database are in {folder}.")
        typer.echo("Open the page in a browser on this computer; Ctrl-C stops the sandbox and "
                   "deletes that folder.")

    run_sandbox(host, port, announce, reporter_language=reporter_language)
