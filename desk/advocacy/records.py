"""What one opened report contributes to advocacy statistics, and whether it may contribute.

Only a report whose reporter answered yes to ``consent.advocacy`` is counted; any other answer,
or none, leaves it out entirely. Of a counted report only five coded answers are read — incident
type, platform, country, month, platform response — never the free text (what happened, links)
nor the files: statistics leave the caseworker's computer, and a sentence or a picture can name
someone.

Values are the reporter flow's stable codes. A value that is not shaped like a code (a forged or
damaged report could carry anything) is counted as ``unrecognised`` rather than exported, so no
text a reporter typed can reach a statistics file whatever a report holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from crypto.body import ReportBody
from crypto.report_fields import (
    KEY_ADVOCACY,
    KEY_COUNTRY,
    KEY_MONTH,
    KEY_PLATFORM,
    KEY_PLATFORM_RESPONSE,
    KEY_TYPE,
    KEY_YEAR,
)

NOT_ANSWERED = "not_answered"
UNRECOGNISED = "unrecognised"
EARLIER = "earlier"  # the flow's code for "before the years offered"

_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
_COUNTRY = re.compile(r"[A-Z]{2}\Z")
_YEAR = re.compile(r"(19|20)[0-9]{2}\Z")


class Dimension(Enum):
    """What a report is counted by; the value is its name in exported files."""

    INCIDENT_TYPE = "incident_type"
    PLATFORM = "platform"
    COUNTRY = "country"
    MONTH = "month"
    PLATFORM_RESPONSE = "platform_response"


@dataclass(frozen=True)
class AdvocacyRecord:
    """The coded answers of one consented report, by dimension, and its case reference (used to
    refuse a case counted twice when exports are merged; never written to a statistics file)."""

    case_reference: str
    values: tuple[tuple[Dimension, str], ...]

    def value(self, dimension: Dimension) -> str:
        """This report's value for ``dimension``."""
        return dict(self.values)[dimension]


def advocacy_record(case_reference: str, body: ReportBody) -> AdvocacyRecord | None:
    """The record of a report body, or None unless its reporter consented to advocacy use."""
    if body.answer(KEY_ADVOCACY) != "yes":
        return None
    values = {
        Dimension.INCIDENT_TYPE: _code(body.answer(KEY_TYPE)),
        Dimension.PLATFORM: _code(body.answer(KEY_PLATFORM)),
        Dimension.COUNTRY: _country(body.answer(KEY_COUNTRY)),
        Dimension.MONTH: _month(body.answer(KEY_YEAR), body.answer(KEY_MONTH)),
        Dimension.PLATFORM_RESPONSE: _code(body.answer(KEY_PLATFORM_RESPONSE)),
    }
    return AdvocacyRecord(case_reference, tuple(values.items()))


def _code(value: str | None) -> str:
    if value is None:
        return NOT_ANSWERED
    return value if _CODE.match(value) else UNRECOGNISED


def _country(value: str | None) -> str:
    if value is None:
        return NOT_ANSWERED
    return value if _COUNTRY.match(value) or value == "other" else UNRECOGNISED


def _month(year: str | None, month: str | None) -> str:
    """``2025-07``; ``2025`` when only the year is known; ``earlier``; or not answered."""
    if year is None:
        return NOT_ANSWERED
    if year == EARLIER:
        return EARLIER
    if not _YEAR.match(year):
        return UNRECOGNISED
    if month is None:
        return year
    if not month.isascii() or not month.isdigit() or not 1 <= int(month) <= 12:
        return UNRECOGNISED
    return f"{year}-{int(month):02d}"
