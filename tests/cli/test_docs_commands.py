"""Every ``sanad ...`` command the README and docs/ show is one the command line accepts.

Commands are taken from fenced code blocks (lines starting ``sanad ``, after an optional ``$``)
and from inline code spans. For each: the words naming the sub-command must lead to a real
command whose ``--help`` succeeds, and every ``--option`` written after them must be one that
command has. Placeholders (``FILE``, ``ID``, ``...``) are not checked: they are for people.
A document that tells an admin to run a command that does not exist, or with an option it
never had, fails here instead of on a deployment day.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE = re.compile(r"`(sanad [^`]+)`")
# In a code line: ``sanad`` at its start, after a prompt, ``sudo`` or a path, and followed by a
# word; not the user, group or container named sanad (``-g sanad FILE``, ``--name sanad --rm``).
_OPTION = re.compile(r"--[a-z][a-z0-9-]*(=.*)?")
_PROMPT = re.compile(r"(?:^|(?<!-\w)\s|/)(sanad\s+[a-z].*)$")


@dataclass(frozen=True)
class Mention:
    """One command as a document writes it, and where."""

    where: str
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


def mentions(document: Path) -> list[Mention]:
    found: list[Mention] = []
    in_code = False
    name = document.relative_to(ROOT)
    lines = document.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        where = f"{name}:{number}"
        if in_code:
            command = _PROMPT.search(line)
            if command:
                text = command.group(1)
                following = number
                while text.endswith("\\") and following < len(lines):  # continued on the next line
                    text = text[:-1] + lines[following]
                    following += 1
                found.append(Mention(where, text.split(" #")[0].strip()))
        else:
            found += [Mention(where, text) for text in _INLINE.findall(line)]
    return found


ALL = [mention for document in DOCUMENTS for mention in mentions(document)]
ROOT_COMMAND = typer.main.get_command(app)


def words(text: str) -> list[str]:
    try:
        return shlex.split(text)[1:]
    except ValueError:  # an unbalanced quote in prose: split on spaces instead
        return text.split()[1:]


def resolve(text: str) -> tuple[list[str], TyperCommand | TyperGroup, list[str]]:
    """The sub-command path, its command, and the options the text names after it."""
    command = ROOT_COMMAND
    path: list[str] = []
    rest = words(text)
    while rest and isinstance(command, TyperGroup) and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    options = [word.split("=")[0] for word in rest if _OPTION.fullmatch(word)]
    return path, command, options


def test_the_documents_show_commands() -> None:
    # The extraction itself must find something, or every other test here passes vacuously.
    assert len(ALL) > 30
    assert any(mention.text.startswith("sanad admin approve") for mention in ALL)


def is_placeholder(word: str) -> bool:
    """``...``, ``FILE``, ``[--out DIR]``: words written for people to replace."""
    return word.strip("[]<>.,") == "" or word.strip("[]<>.,").isupper()


@pytest.mark.parametrize("mention", ALL, ids=str)
def test_documented_command_parses(mention: Mention) -> None:
    path, command, options = resolve(mention.text)
    rest = words(mention.text)[len(path) :]
    named = rest[0] if rest and not rest[0].startswith("-") else None
    if isinstance(command, TyperGroup) and named and not is_placeholder(named):
        where = f"`sanad {' '.join(path)}`" if path else "sanad"
        pytest.fail(f"{mention}: {where} has no command {named!r}")
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, f"{mention}: `sanad {' '.join(path)} --help` failed"
    known = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    unknown = [option for option in options if option not in known and option != "--help"]
    assert not unknown, f"{mention}: `sanad {' '.join(path)}` has no option {', '.join(unknown)}"
