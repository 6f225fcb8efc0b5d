"""``sanad caseworker init|open|reply|export|package|custody`` and ``sanad verify-package``: the
caseworker's commands, for scripts and terminals.

The server's command line registers :data:`caseworker_app` under ``sanad caseworker`` and calls
:func:`register_top_level`; the commands import only ``crypto`` and ``desk``.
"""

from __future__ import annotations

import typer

from desk.cli import advocacy_cmd, custody_cmd, init_cmd, open_cmd, package_cmd, reply_cmd

caseworker_app = typer.Typer(
    help="Caseworker keys and sealed files (run on your own machine).", no_args_is_help=True
)
init_cmd.register(caseworker_app)
open_cmd.register(caseworker_app)
reply_cmd.register(caseworker_app)
advocacy_cmd.register(caseworker_app)
package_cmd.register(caseworker_app)
custody_cmd.register(caseworker_app)


def register_top_level(app: typer.Typer) -> None:
    """Add the caseworker-side command that sits at the top: ``sanad verify-package`` (whoever
    receives a package runs it, caseworker or not)."""
    package_cmd.register_verify(app)
