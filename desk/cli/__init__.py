"""``sanad caseworker init|open|reply``: the caseworker's commands, for scripts and terminals.

The server's command line registers :data:`caseworker_app` under ``sanad caseworker``; the
commands import only ``crypto`` and ``desk``.
"""

from __future__ import annotations

import typer

from desk.cli import init_cmd, open_cmd, reply_cmd

caseworker_app = typer.Typer(
    help="Caseworker keys and sealed files (run on your own machine).", no_args_is_help=True
)
init_cmd.register(caseworker_app)
open_cmd.register(caseworker_app)
reply_cmd.register(caseworker_app)
