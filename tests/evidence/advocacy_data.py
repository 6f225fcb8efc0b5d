"""Reports for the statistics tests: consented and not, across platforms, countries and months.

Every report carries free text with a canary, and the non-consented ones alone use TikTok and
Tunisia, so any trace of them in a published file is visible.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from crypto.body import Answer, ReportBody
from crypto.report_fields import (
    KEY_ADVOCACY,
    KEY_COUNTRY,
    KEY_DESCRIPTION,
    KEY_LINK,
    KEY_MONTH,
    KEY_PLATFORM,
    KEY_PLATFORM_RESPONSE,
    KEY_TYPE,
    KEY_YEAR,
)

FREE_TEXT = "FreeTextCanary"
TYPES = ["entrapment", "doxxing", "blackmail", "harassment", "arrest"]
PLATFORMS = ["facebook", "instagram", "dating_app", "whatsapp"]
COUNTRIES = ["EG", "IQ", "JO", "LB"]
RESPONSES = ["nothing", "removed", "not_against_rules", "not_reported"]
ONLY_UNCONSENTED = {"platform": "tiktok", "country": "TN"}


@dataclass(frozen=True)
class Case:
    reference: str
    body: ReportBody
    values: dict[str, str]  # dimension name -> value, as the statistics should count it


def make_cases(consented: int, unconsented: int, *, seed: int = 13) -> list[Case]:
    draw = random.Random(seed)
    cases = []
    for index in range(consented + unconsented):
        agreed = index < consented
        year = draw.choice(["2024", "2025", "2025", None])
        month = draw.randint(1, 12) if year else None
        values = {
            "incident_type": draw.choices(TYPES, weights=[8, 5, 4, 2, 1])[0],
            "platform": draw.choices(PLATFORMS, weights=[8, 6, 3, 1])[0]
            if agreed
            else ONLY_UNCONSENTED["platform"],
            "country": draw.choices(COUNTRIES, weights=[6, 5, 2, 1])[0]
            if agreed
            else ONLY_UNCONSENTED["country"],
            "month": f"{year}-{month:02d}" if year and month else "not_answered",
            "platform_response": draw.choice(RESPONSES),
        }
        answers = [
            Answer(KEY_TYPE, values["incident_type"]),
            Answer(KEY_PLATFORM, values["platform"]),
            Answer(KEY_COUNTRY, values["country"]),
            *([Answer(KEY_YEAR, year), Answer(KEY_MONTH, str(month))] if year else []),
            Answer(KEY_DESCRIPTION, f"{FREE_TEXT} {index}: they found my name"),
            Answer(KEY_LINK, f"https://example.org/{FREE_TEXT}-{index}"),
            Answer(KEY_PLATFORM_RESPONSE, values["platform_response"]),
            Answer(KEY_ADVOCACY, "yes" if agreed else "no"),
        ]
        cases.append(Case(f"K{index:02d}-TEST", ReportBody(answers), values))
    return cases


def truth(cases: list[Case]) -> tuple[dict[str, Counter[str]], dict[str, Counter[tuple[str, str]]]]:
    """Ground truth, counted here without the code under test: consented cases only."""
    agreed = [c for c in cases if c.body.answer(KEY_ADVOCACY) == "yes"]
    names = ["incident_type", "platform", "country", "month", "platform_response"]
    one_way = {n: Counter(c.values[n] for c in agreed) for n in names}
    cross = {
        f"{a}/{b}": Counter((c.values[a], c.values[b]) for c in agreed)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }
    return one_way, cross
