"""``sanad check-config``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the configuration commands to the main application."""
