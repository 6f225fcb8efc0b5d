"""What every published statistics file says about itself: its count, its dates, its caveat."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CAVEAT = "These are documented cases reported to the organisation, not a measure of prevalence."


@dataclass(frozen=True)
class About:
    """What every published file states about itself."""

    reports: int
    first_month: str | None
    last_month: str | None
    made_on: dt.date

    @property
    def date_range(self) -> str:
        """The incident months covered, as people read it."""
        if self.first_month is None:
            return "incident dates not known"
        return f"incidents from {self.first_month} to {self.last_month}"

    @property
    def caption(self) -> str:
        """The one line each chart and table carries."""
        return f"{self.reports} consented reports; {self.date_range}. {CAVEAT}"
