"""Database commands: ``sanad db upgrade``."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
