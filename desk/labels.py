"""Human labels for what a report holds: its answers' keys and coded values, in the desk's language.

A sealed report holds stable codes (``incident.platform: dating_app``), the same whatever language
the reporter used. The answer keys come from :mod:`crypto.report_fields`, which the bot writes
with; the coded values are the bot's (``handlers.choices``, which this package may not import: a
test checks the two agree). Country
and month names come from Unicode CLDR through Babel, as in the bot. Free text — the reporter's
account, links — is never translated: it is shown as written.
"""

from __future__ import annotations

from collections.abc import Mapping

from babel import Locale
from babel.dates import get_month_names

from crypto.report_fields import KEY_ADDENDUM_TEXT as ADDENDUM_TEXT
from crypto.report_fields import KEY_ADVOCACY as ADVOCACY
from crypto.report_fields import KEY_COUNTRY as COUNTRY
from crypto.report_fields import KEY_DANGER as DANGER
from crypto.report_fields import KEY_DESCRIPTION as DESCRIPTION
from crypto.report_fields import KEY_LANGUAGE as LANGUAGE
from crypto.report_fields import KEY_LINK as LINK
from crypto.report_fields import KEY_MONTH as MONTH
from crypto.report_fields import KEY_PLATFORM as PLATFORM
from crypto.report_fields import KEY_PLATFORM_RESPONSE as PLATFORM_RESPONSE
from crypto.report_fields import KEY_REPLY_WANTED as REPLY_WANTED
from crypto.report_fields import KEY_TYPE as INCIDENT_TYPE
from crypto.report_fields import KEY_YEAR as YEAR
from desk.i18n import LANGUAGE_NAMES, N_, Translate

#: The answers as the case page names them, in the order the reporter gave them.
ANSWER_LABELS: Mapping[str, str] = {
    LANGUAGE: N_("Reporter's language"),
    DANGER: N_("In danger now"),
    INCIDENT_TYPE: N_("Incident type"),
    PLATFORM: N_("Platform"),
    COUNTRY: N_("Country"),
    YEAR: N_("Year"),
    MONTH: N_("Month"),
    DESCRIPTION: N_("What happened, in the reporter's words"),
    LINK: N_("Link"),
    PLATFORM_RESPONSE: N_("What the platform did"),
    REPLY_WANTED: N_("Wants a reply"),
    ADVOCACY: N_("Agrees to anonymous use in advocacy"),
    ADDENDUM_TEXT: N_("Added information"),
}

_YES_NO: Mapping[str, str] = {"yes": N_("Yes"), "no": N_("No")}

#: Coded values, by the key whose value they are: short, as a case list needs them. Platforms
#: that are brands (:data:`_BRANDS`) are shown by their own names, untranslated.
VALUE_LABELS: Mapping[str, Mapping[str, str]] = {
    INCIDENT_TYPE: {
        "doxxing": N_("Doxxing / outing"),
        "harassment": N_("Harassment / threats"),
        "entrapment": N_("Entrapment (fake profile, dating app)"),
        "blackmail": N_("Blackmail / extortion"),
        "account_takeover": N_("Account taken over"),
        "arrest": N_("Arrest / detention"),
        "other": N_("Other incident"),
    },
    PLATFORM: {
        "dating_app": N_("Dating app"),
        "x": N_("X (Twitter)"),
        "other": N_("Other platform"),
    },
    PLATFORM_RESPONSE: {
        "not_reported": N_("Not reported to the platform"),
        "nothing": N_("Reported; nothing happened"),
        "removed": N_("Reported; the platform removed it"),
        "not_against_rules": N_("Reported; the platform said it broke no rule"),
        "unknown": N_("The reporter does not know"),
    },
    DANGER: _YES_NO,
    REPLY_WANTED: _YES_NO,
    ADVOCACY: _YES_NO,
}

_BRANDS = {name.casefold(): name for name in
           ("Facebook", "Instagram", "WhatsApp", "Messenger", "Telegram", "TikTok")}  # fmt: skip

#: Answers whose value is the reporter's own text: shown as written, isolated, never translated.
FREE_TEXT = frozenset({DESCRIPTION, LINK, ADDENDUM_TEXT})


def answer_label(key: str, translate: Translate) -> str:
    """The label of an answer; an unknown key (a newer bot) is shown as the key itself."""
    label = ANSWER_LABELS.get(key)
    return translate(label) if label else key


def value_label(key: str, value: str, language: str, translate: Translate) -> str:
    """A coded value in ``language``; an unknown code is shown as the code itself."""
    if key == COUNTRY:
        return str(Locale.parse(language).territories.get(value.upper(), value))
    if key == MONTH and value.isdigit() and 1 <= int(value) <= 12:
        return str(get_month_names("wide", context="stand-alone", locale=language)[int(value)])
    if key == LANGUAGE:
        return LANGUAGE_NAMES.get(value, value)
    if key == PLATFORM and value in _BRANDS:
        return _BRANDS[value]
    label = VALUE_LABELS.get(key, {}).get(value)
    return translate(label) if label else value
