"""What the admin commands that move cases (reassign, rewrap) take besides whom they move."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crypto.keys import OrganisationKeys


def as_admin(org: OrganisationKeys, *, today: dt.date, now: dt.datetime) -> dict[str, Any]:
    """The recovery key, the pinned keys and the clock, as keyword arguments."""
    return {
        "recovery_key": org.recovery,
        "recovery_public": org.recovery.public_key,
        "org_public": org.signing.public_key,
        "today": today,
        "now": now,
        "min_serial": 0,
    }
