"""``sanad desk``: the caseworker's desk, a local web page to read, hear and answer cases."""

from __future__ import annotations

import asyncio
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from desk.passphrase import PassphraseFileOption, read_passphrase
from desk.places import default_data_folder, default_inbox
from desk.session import Desk, DeskSettings

DEFAULT_KEY = Path.home() / "sanad" / "caseworker.key"
_LOCK_CHECK_SECONDS = 5.0


def register(app: typer.Typer) -> None:
    """Add ``desk`` to the main application."""
    app.command("desk")(desk)


def desk(
    key: Annotated[
        Path,
        typer.Option("--key", help="Your caseworker key file.", dir_okay=False, exists=True),
    ] = DEFAULT_KEY,
    inbox: Annotated[
        Path | None,
        typer.Option(
            "--inbox",
            help="Folder where sealed files from Telegram are saved [default: your Downloads].",
            file_okay=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Folder where the desk keeps sealed files and its sealed state "
            "[default: your system's application data folder].",
            file_okay=False,
        ),
    ] = None,
    idle_minutes: Annotated[
        float,
        typer.Option("--lock-after", min=0.01, help="Lock after this many idle minutes."),
    ] = 10.0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address; do not open a browser.")
    ] = False,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Open your desk: a page on this computer to read, hear and answer your cases.

    It asks your key file's passphrase, serves a page on 127.0.0.1 that only this session's
    address opens, and opens your browser there. Sealed files you drop on the page or save into
    the inbox folder are checked and listed. Ctrl-C closes the desk and forgets your key.
    """
    settings = DeskSettings(
        key_file=key,
        data_folder=data or default_data_folder(),
        inbox=inbox or default_inbox(),
        idle_seconds=idle_minutes * 60,
    )
    the_desk = Desk(settings)
    the_desk.unlock(read_passphrase(passphrase_file, creating=False))
    asyncio.run(_serve(the_desk, open_browser=not no_browser))


async def _serve(the_desk: Desk, *, open_browser: bool) -> None:
    # Imported here: ``sanad --help`` and the other commands need no web server.
    from desk.web.server import serve

    server, address = serve(the_desk)
    url = address.home
    typer.echo(f"Your desk is open at {url}")
    typer.echo("Ctrl-C closes it and forgets your key.")
    if open_browser:
        webbrowser.open(url)
    try:
        while True:  # the idle lock holds even when no request comes
            await asyncio.sleep(min(the_desk.settings.idle_seconds / 4, _LOCK_CHECK_SECONDS))
            the_desk.lock_if_idle()
    finally:
        server.stop()
        the_desk.lock()
