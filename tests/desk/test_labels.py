"""The desk names every answer and code the bot writes, in Arabic, French and English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bot.services.report_submission as submission
import desk
from crypto.report_fields import KEY_ADDENDUM_TEXT
from desk.i18n import LANGUAGES, catalogue
from desk.labels import ANSWER_LABELS, VALUE_LABELS, value_label
from handlers.choices import INCIDENT_TYPES, PLATFORM_RESPONSES, PLATFORMS

DESK = Path(desk.__file__).parent
_MESSAGE = re.compile(r"""\b_\(\s*"((?:[^"\\]|\\.)+)"\s*\)|\b_\(\s*'((?:[^'\\]|\\.)+)'\s*\)""")
_MARKED = re.compile(r"""\bN_\(\s*"((?:[^"\\]|\\.)+)"\s*\)""")


def _message_ids() -> set[str]:
    """Every message id the desk's templates and modules use."""
    found: set[str] = set()
    for path in [*DESK.rglob("*.html"), *DESK.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        found |= {a or b for a, b in _MESSAGE.findall(text)}
        found |= set(_MARKED.findall(text))
    return found | {"new", "read", "replied", "closed"}  # case states, shown as _(state)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    ids = _message_ids()
    # The scan must see templates and modules alike, or an empty scan would pass.
    assert {"Reply to the reporter", "Blackmail / extortion"} <= ids
    assert sorted(ids - set(catalogue(language))) == []


@pytest.mark.parametrize("language", ["ar", "fr"])
def test_translations_keep_their_placeholders(language: str) -> None:
    for message, translated in catalogue(language).items():
        assert set(re.findall(r"{\w+}", message)) == set(re.findall(r"{\w+}", translated)), message


def test_every_answer_key_the_bot_writes_has_a_label() -> None:
    keys = {value for name, value in vars(submission).items() if name.startswith("KEY_")}
    assert keys | {KEY_ADDENDUM_TEXT} <= set(ANSWER_LABELS)


@pytest.mark.parametrize(
    ("key", "codes"),
    [("incident.type", INCIDENT_TYPES), ("incident.platform", PLATFORMS),
     ("platform.response", PLATFORM_RESPONSES)],
)  # fmt: skip
def test_every_code_the_bot_writes_has_a_label(key: str, codes: dict[str, str]) -> None:
    for code in codes:
        assert value_label(key, code, "en", str) != code or code in VALUE_LABELS[key], code
    assert set(VALUE_LABELS[key]) <= set(codes)


def test_countries_and_months_come_from_cldr_in_the_desks_language() -> None:
    assert value_label("incident.country", "LB", "fr", str) == "Liban"
    assert value_label("incident.country", "EG", "ar", str) == "مصر"
    assert value_label("incident.month", "7", "en", str) == "July"
