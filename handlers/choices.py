"""The fixed answers a reporter can choose, as stable codes with translatable labels.

Codes are what the draft and the sealed report hold, so a caseworker reads the same value whatever
language the reporter chose; labels are gettext message ids, translated when shown. Codes are
also the ``callback_data`` of the buttons, so they are short ASCII words (Telegram allows 64 bytes
of callback data).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from babel import Locale
from babel.dates import get_month_names

from handlers.i18n import N_

INCIDENT_TYPES: Mapping[str, str] = {
    "doxxing": N_("Doxxing or outing"),
    "harassment": N_("Harassment or threats"),
    "entrapment": N_("Entrapment through a fake profile or dating app"),
    "blackmail": N_("Blackmail or extortion"),
    "account_takeover": N_("Account takeover"),
    "arrest": N_("Arrest or detention after online contact"),
    "other": N_("Something else"),
}

PLATFORMS: Mapping[str, str] = {
    "facebook": N_("Facebook"),
    "instagram": N_("Instagram"),
    "whatsapp": N_("WhatsApp"),
    "messenger": N_("Messenger"),
    "telegram": N_("Telegram"),
    "dating_app": N_("Grindr or another dating app"),
    "x": N_("X (Twitter)"),
    "tiktok": N_("TikTok"),
    "other": N_("Another platform"),
}

PLATFORM_RESPONSES: Mapping[str, str] = {
    "not_reported": N_("I did not report it to the platform"),
    "nothing": N_("I reported it and nothing happened"),
    "removed": N_("I reported it and they removed it"),
    "not_against_rules": N_("I reported it and they said it did not break their rules"),
    "unknown": N_("I don't know"),
}

OTHER_COUNTRY = "other"
EARLIER = "earlier"
YEARS_OFFERED = 6


@functools.cache
def country_name(code: str, language: str) -> str:
    """The name of the country ``code`` (ISO 3166 alpha-2) in ``language``, from CLDR via Babel.

    Country names come from Unicode CLDR rather than from our catalogue: they are maintained
    there, in every language, by native speakers.
    """
    return str(Locale.parse(language).territories.get(code.upper(), code))


@functools.cache
def month_name(month: int, language: str) -> str:
    """The stand-alone name of ``month`` (1–12) in ``language``, from CLDR via Babel."""
    return str(get_month_names("wide", context="stand-alone", locale=language)[month])


def load_names(languages: Iterable[str], countries: Iterable[str]) -> None:
    """Look up every country and month name the flow can show, once, at start-up.

    Babel reads its CLDR data (a few MiB) on first use. Read here, the first reporter to reach
    the country question does not wait for it, and the bot's memory is whole once it has
    started, so growth measured later is growth (docs/RELIABILITY.md, "Memory").
    """
    codes = tuple(countries)
    for language in languages:
        for code in codes:
            country_name(code, language)
        for month in range(1, 13):
            month_name(month, language)
