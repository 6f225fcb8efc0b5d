"""Catalogues: every message of handlers/ translated in every language, and no stray literals."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

import handlers
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, Notice, catalogue_path, isolate, translator

HANDLERS_DIR = Path(handlers.__file__).parent
ROOT = HANDLERS_DIR.parent


def extracted_messages() -> set[str]:
    """Message ids Babel extracts with the project's own babel.cfg, as ``pybabel extract`` does."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map=method_map, options_map=options_map
    ):
        if isinstance(message, str):
            ids.add(message)
    return ids


def test_extraction_finds_the_flow_messages() -> None:
    messages = extracted_messages()
    assert "Something went wrong. Nothing you sent was kept." in messages
    assert "Choose your language." in messages
    assert len(messages) > 80


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_translates_every_message_without_fuzzy_or_empty_entries(language: str) -> None:
    with catalogue_path(language).open("rb") as po_file:
        catalogue = read_po(po_file, locale=language)
    entries = {m.id: m for m in catalogue if m.id}
    missing = extracted_messages() - set(entries)
    assert not missing, f"{language}: not in the catalogue: {sorted(missing)[:5]}"
    empty = [i for i, m in entries.items() if not m.string]
    fuzzy = [i for i, m in entries.items() if m.fuzzy]
    assert not empty, f"{language}: empty translations: {empty[:5]}"
    assert not fuzzy, f"{language}: fuzzy translations: {fuzzy[:5]}"
    assert not catalogue.fuzzy


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_holds_no_message_the_code_no_longer_uses(language: str) -> None:
    # A stale entry is a translation nobody reviews again, waiting to come back out of date.
    with catalogue_path(language).open("rb") as po_file:
        catalogue = read_po(po_file, locale=language)
    stale = {m.id for m in catalogue if m.id} - extracted_messages()
    assert not stale, f"{language}: no code uses: {sorted(stale)[:5]}"


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_exactly_the_placeholders_of_their_message(language: str) -> None:
    with catalogue_path(language).open("rb") as po_file:
        catalogue = read_po(po_file, locale=language)
    for message in catalogue:
        if message.id:
            assert _fields(message.string) == _fields(message.id), message.id


def test_arabic_translations_are_arabic_and_isolate_latin_commands() -> None:
    _ = translator("ar")
    for message in extracted_messages():
        translated = _(message)
        assert re.search("[\u0600-\u06ff]", translated), message
        for command in re.findall(r"/[a-z]+", translated):
            assert f"\u2068{command}\u2069" in translated, (message, command)


def test_translation_is_used_at_runtime_and_unknown_language_falls_back_to_english() -> None:
    message = "Something went wrong. Nothing you sent was kept."
    assert translator("fr")(message).startswith("Une erreur")
    assert translator("ar")(message) != message
    assert translator("xx")(message) == message


def test_notice_fills_placeholders_after_translation_with_isolated_strings() -> None:
    notice = Notice("Date: {value}", {"value": "March 2025"})
    assert notice.render(translator("ar")) == "التاريخ: " + isolate("March 2025")


# Strings that reach a reporter but are deliberately not translated: each language's own name.
UNTRANSLATED_ON_PURPOSE = set(LANGUAGE_NAMES.values())
_MARKERS = {"_", "N_"}
_LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


def _prose_literals(source: str) -> list[str]:
    """String literals that read like prose and are neither marked, docstrings nor log events."""
    tree = ast.parse(source)
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            is_log = isinstance(func, ast.Attribute) and func.attr in _LOG_METHODS
            is_exception = isinstance(func, ast.Name) and func.id.endswith(("Error", "Exception"))
            if name in _MARKERS or is_log or is_exception:
                exempt.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                exempt.add(id(body[0].value))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in exempt
            and node.value not in UNTRANSLATED_ON_PURPOSE
            and re.search(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}", node.value)
        ):
            found.append(node.value)
    return found


# Modules whose users are caseworkers or admins, who work in English by design (their docstrings
# say so); every other module of handlers/ talks to reporters and must use the catalogue.
STAFF_FACING = {"reply_commands.py", "caseworker_commands.py"}


@pytest.mark.parametrize(
    "module",
    sorted(p.name for p in HANDLERS_DIR.glob("*.py") if p.name not in STAFF_FACING),
    ids=lambda name: name,
)
def test_no_user_facing_literal_outside_the_catalogue(module: str) -> None:
    literals = _prose_literals((HANDLERS_DIR / module).read_text(encoding="utf-8"))
    assert literals == [], f"{module}: untranslated prose {literals}"


def test_literal_detector_catches_an_unmarked_reply() -> None:
    source = 'async def f(m):\n    """Doc string here."""\n    await m.reply_text("Hello there")\n'
    assert _prose_literals(source) == ["Hello there"]
    marked = 'async def f(m, _):\n    await m.reply_text(_("Hello there"))\n'
    assert _prose_literals(marked) == []
