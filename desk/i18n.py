"""The desk's own words in Arabic, French and English (it may not use the bot's catalogue).

Message ids are English sentences, as in the bot; the catalogues are
``desk/locales/<lang>/LC_MESSAGES/desk.po``, read once with Babel into a dictionary (the desk
needs lookups only, no plural forms). A missing translation falls back to the English id, and a
test fails on it. Values are filled in after translation, so translators can move them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources

from babel.messages.pofile import read_po

DOMAIN = "desk"
LANGUAGES: tuple[str, ...] = ("ar", "fr", "en")
DEFAULT_LANGUAGE = "en"
RIGHT_TO_LEFT = frozenset({"ar"})
#: Each language under its own name, so a caseworker finds theirs without reading the others.
LANGUAGE_NAMES: Mapping[str, str] = {"ar": "العربية", "fr": "Français", "en": "English"}

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue where it is defined; it is translated when shown."""
    return message


@cache
def catalogue(language: str) -> Mapping[str, str]:
    """Message id → translation for ``language`` (empty translations left out)."""
    path = resources.files("desk") / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po_file:
        messages = read_po(po_file, locale=language, domain=DOMAIN)
    return {str(m.id): str(m.string) for m in messages if m.id and m.string}


def translator(language: str) -> Translate:
    """A ``_`` for ``language`` (English for one the desk does not have)."""
    table = catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    return lambda message: table.get(message, message)
