"""Key commands: ``sanad org init`` and ``sanad caseworker init|open``."""

from __future__ import annotations

import typer

org_app = typer.Typer(
    help="Organisation keys (run on an admin's offline machine).", no_args_is_help=True
)
caseworker_app = typer.Typer(
    help="Caseworker keys and sealed files (run on your own machine).", no_args_is_help=True
)
