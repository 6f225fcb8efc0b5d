"""What a test does when PostgreSQL cannot be reached: skip with the reason, or fail in CI.

Developers without a PostgreSQL server get clear skips; ``.ci/run`` sets
``SANAD_REQUIRE_POSTGRES=1`` once the server answers, so there the PostgreSQL variants cannot
quietly stop running.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def postgres_unreachable(reason: str) -> NoReturn:
    if os.environ.get("SANAD_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (SANAD_REQUIRE_POSTGRES=1: PostgreSQL tests must run)")
    pytest.skip(reason)
