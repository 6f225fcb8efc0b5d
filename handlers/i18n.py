"""Translation: gettext catalogues, English sentences as message ids, compiled in memory at start.

Every sentence a reporter sees is written as ``_("English sentence")`` (or marked with ``N_`` where
it is defined away from the call that shows it) and looked up in the reporter's language. Values
are filled in *after* translation — ``_("Your case reference is {case}").format(case=...)`` — so
translators move placeholders where their grammar needs them.

The catalogues are the ``.po`` files in ``handlers/locales/<lang>/LC_MESSAGES/sanad.po``. They are
compiled to gettext's binary form in memory, with Babel, the first time a language is used, rather
than shipped as committed ``.mo`` files: the ``.po`` stays the one source (a committed ``.mo`` can
silently drift from it), setuptools needs no build step, and compiling three small catalogues
takes milliseconds. Fuzzy entries are not used; a missing translation falls back to the English
message id, and ``tests/handlers/test_i18n.py`` fails on either.

Arabic is written right to left. User content, links and references placed inside a translated
sentence are wrapped in first-strong isolation marks (:func:`isolate`) so that Latin text, digits
or a URL cannot reorder the Arabic sentence around them.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "sanad"
LANGUAGES: tuple[str, ...] = ("ar", "fr", "en")
DEFAULT_LANGUAGE = "en"
# Each language is offered under its own name (an endonym), never a translation of it: a reporter
# must recognise their language before they can read anything else.
LANGUAGE_NAMES: Mapping[str, str] = {"ar": "العربية", "fr": "Français", "en": "English"}

_FIRST_STRONG_ISOLATE = "\u2068"
_POP_DIRECTIONAL_ISOLATE = "\u2069"

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it yet (it is translated when shown)."""
    return message


def isolate(value: str) -> str:
    """Wrap ``value`` in FSI…PDI so its direction cannot disturb the sentence around it."""
    return f"{_FIRST_STRONG_ISOLATE}{value}{_POP_DIRECTIONAL_ISOLATE}"


@dataclass(frozen=True)
class Notice:
    """A message for the reporter, not yet translated: a message id and the values to fill in.

    Lower layers (text hygiene, evidence checks) return notices instead of strings so that they
    need no language; the flow renders them in the reporter's language.
    """

    message: str
    params: Mapping[str, str | int] = field(default_factory=dict)

    def render(self, translate: Translate) -> str:
        """The translated sentence with its values filled in (strings isolated for bidi safety)."""
        values = {k: isolate(v) if isinstance(v, str) else v for k, v in self.params.items()}
        return translate(self.message).format(**values)


@dataclass(frozen=True)
class Refused:
    """Input that is not kept; ``notice`` says why, in words the reporter can act on."""

    notice: Notice


def catalogue_path(language: str) -> resources.abc.Traversable:
    """Where the ``.po`` catalogue of ``language`` lives inside the installed package."""
    return resources.files("handlers") / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue for ``language``; English (the message ids) for an unknown one."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    with catalogue_path(language).open("rb") as po_file:
        catalogue = read_po(po_file, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def translator(language: str) -> Translate:
    """A ``_`` function for ``language``: the translated message, or the English id as fallback."""
    return translations(language).gettext


