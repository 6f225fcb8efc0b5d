"""Output for people that fits the terminal, and JSON for scripts (``--json``).

Admin listings show what a verification procedure asks the admin to check — a label, a status,
a fingerprint — so nothing here ever truncates: a record is stacked as one "name  value" line
per field, and a line too long for the terminal wraps at spaces, its continuation indented
under the value. The width is the terminal's (``COLUMNS`` when set, else 80 when output is not
a terminal).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Sequence
from typing import Any

import typer

_MIN_WIDTH = 40  # below this, wrapping makes things worse, not better


def terminal_width() -> int:
    """Columns to fit: the terminal's, ``COLUMNS``, or 80."""
    return max(_MIN_WIDTH, shutil.get_terminal_size((80, 24)).columns)


def wrapped(line: str, width: int, *, hang: int | None = None) -> list[str]:
    """``line`` cut at spaces to ``width`` columns, continuation lines indented by ``hang``
    (default: the line's own indentation plus two). Words are never cut unless one alone is
    longer than the line: then it is split, not dropped."""
    indent = len(line) - len(line.lstrip(" "))
    subsequent = " " * (indent + 2 if hang is None else hang)
    return textwrap.wrap(
        line,
        width=width,
        initial_indent="",
        subsequent_indent=subsequent,
        drop_whitespace=True,
        break_on_hyphens=False,
    ) or [""]


def echo_wrapped(lines: Sequence[str], *, width: int | None = None) -> None:
    """Print ``lines``, each wrapped to the terminal."""
    columns = width or terminal_width()
    for line in lines:
        for part in wrapped(line, columns):
            typer.echo(part)


def stacked(
    title: str, fields: Sequence[tuple[str, str]], *, width: int | None = None
) -> list[str]:
    """One record as ``title`` then an indented "name  value" line per field, values wrapped
    under themselves."""
    columns = width or terminal_width()
    name_width = max(len(name) for name, _ in fields)
    hang = 2 + name_width + 2
    lines = [title]
    for name, value in fields:
        lines += wrapped(f"  {name:<{name_width}}  {value}", columns, hang=hang)
    return lines


def echo_json(document: Any) -> None:
    """Print ``document`` as one JSON document (UTF-8 kept, keys in the given order)."""
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
