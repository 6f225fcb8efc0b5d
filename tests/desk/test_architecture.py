"""The caseworker's side runs no server code path: ``desk`` imports ``crypto`` and itself only
(DESIGN.md §3)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import desk

FORBIDDEN = ("bot", "storage", "handlers")
DESK = Path(desk.__file__).parent


def _imported_modules(source: Path) -> list[str]:
    """Every module a file imports, at top level or inside a function (absolute names)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _forbidden(module: str) -> bool:
    return module.split(".")[0] in FORBIDDEN


def test_the_rule_catches_a_server_import() -> None:
    assert _forbidden("bot.services.delivery")
    assert _forbidden("storage")
    assert not _forbidden("crypto.sealed_file")
    assert not _forbidden("desk.opening")


def test_nothing_in_desk_imports_bot_storage_or_handlers() -> None:
    files = sorted(DESK.rglob("*.py"))
    assert len(files) > 5
    offenders = {
        str(file.relative_to(DESK)): module
        for file in files
        for module in _imported_modules(file)
        if _forbidden(module)
    }
    assert offenders == {}


def test_no_relative_import_reaches_out_of_desk() -> None:
    # ``from ... import x`` two levels up from desk/cli/ would leave the package unnoticed.
    for file in DESK.rglob("*.py"):
        depth = len(file.relative_to(DESK).parts) - 1
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= depth, file


def test_importing_every_desk_module_loads_no_server_module() -> None:
    modules = sorted(
        ".".join(("desk", *file.relative_to(DESK).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for file in DESK.rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
