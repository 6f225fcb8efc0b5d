"""AST scans behind the architecture rules: who imports ``nacl``, what could write to disk.

They read source, not behaviour: a module that is never imported in a test is still held to the
rules. Each scan returns ``(line, what)`` pairs so a failure names the line to look at.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SKIPPED_DIRECTORIES = {".venv", ".git", "node_modules", "build", "dist", "__pycache__"}
# Modules whose only job is to write files or copy them: importing one in a handler is the finding.
_WRITING_MODULES = {"tempfile", "shutil"}
# os functions that create, write or move a file.
_WRITING_OS_CALLS = {
    "open", "write", "fdopen", "mkdir", "makedirs", "replace", "rename", "renames", "link",
    "symlink", "truncate", "ftruncate", "mkfifo", "mknod",
}
# pathlib methods that create or write a file.
_WRITING_PATH_METHODS = {"write_text", "write_bytes", "touch", "mkdir", "symlink_to",
                         "hardlink_to"}
_WRITING_MODE_LETTERS = set("wax+")


def python_files(root: Path = ROOT) -> Iterator[Path]:
    """Every ``.py`` file of the repository, virtual environments and caches left out."""
    for path in sorted(root.rglob("*.py")):
        if not _SKIPPED_DIRECTORIES.intersection(path.relative_to(root).parts):
            yield path


def _imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module an import statement or a string-named dynamic import brings in."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args:
            # importlib.import_module("nacl.bindings") and __import__("nacl") name it in a string
            name = _called_name(node.func)
            first = node.args[0]
            if name in {"import_module", "__import__"} and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                yield node.lineno, first.value


def nacl_imports(source: str) -> list[tuple[int, str]]:
    """The lines of ``source`` that import ``nacl`` or one of its modules."""
    return [
        (line, module)
        for line, module in _imported_modules(ast.parse(source))
        if module == "nacl" or module.startswith("nacl.")
    ]


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _writing_mode(call: ast.Call, position: int) -> str | None:
    """Why the mode argument of an ``open`` call may write, or None when it only reads."""
    mode: ast.expr | None = call.args[position] if len(call.args) > position else None
    for keyword in call.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    if mode is None:
        return None  # the default, "r"
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return f"mode {mode.value!r}" if _WRITING_MODE_LETTERS & set(mode.value) else None
    return "a mode computed at run time"


def disk_writes(source: str) -> list[tuple[int, str]]:
    """The lines of ``source`` that could write to disk, each with what was found."""
    found: list[tuple[int, str]] = [
        (line, f"imports {module}")
        for line, module in _imported_modules(ast.parse(source))
        if module.split(".")[0] in _WRITING_MODULES
    ]
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            why = _writing_mode(node, 1)
            if why:
                found.append((node.lineno, f"open() with {why}"))
        elif isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else None
            if owner == "os" and func.attr in _WRITING_OS_CALLS:
                found.append((node.lineno, f"os.{func.attr}()"))
            elif func.attr in _WRITING_PATH_METHODS:
                found.append((node.lineno, f".{func.attr}()"))
            elif func.attr == "open" and owner not in {"Image", "io"}:
                why = _writing_mode(node, 0)
                if why:
                    found.append((node.lineno, f".open() with {why}"))
    return sorted(found)
