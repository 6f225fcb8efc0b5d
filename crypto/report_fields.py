"""The answer keys of a report body: the payload schema the bot writes and caseworkers read.

A report body (:mod:`crypto.body`) is a list of (key, text) answers; these are the keys the
reporter flow fills, with the flow's stable codes as values (``incident.type`` = ``doxxing``),
never translated labels. They live here, in the one package both the bot and a caseworker's
computer import, so the statistics and packages made there read what the bot wrote.
"""

from __future__ import annotations

from typing import Final

KEY_LANGUAGE: Final = "reporter.language"
KEY_DANGER: Final = "reporter.in_danger"
KEY_TYPE: Final = "incident.type"
KEY_PLATFORM: Final = "incident.platform"
KEY_COUNTRY: Final = "incident.country"
KEY_YEAR: Final = "incident.year"
KEY_MONTH: Final = "incident.month"
KEY_DESCRIPTION: Final = "incident.description"  # free text
KEY_LINK: Final = "incident.link"  # free text, one answer per link
KEY_PLATFORM_RESPONSE: Final = "platform.response"
KEY_REPLY_WANTED: Final = "reporter.wants_reply"
KEY_ADVOCACY: Final = "consent.advocacy"  # "yes": the report may be counted in statistics
KEY_ADDENDUM_TEXT: Final = "addendum.text"  # free text: the body of an addition to a case
