"""How long the reliability suite runs: short in CI, full length on demand.

``SANAD_RELIABILITY_FULL=1`` runs every long test at full length: the state machine's examples
and steps, and the soak's reporters and minutes (docs/BENCHMARKS.md, "Reliability").
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FULL = os.environ.get("SANAD_RELIABILITY_FULL") == "1"

STATE_MACHINE = settings(
    max_examples=60 if FULL else 8,
    stateful_step_count=80 if FULL else 15,
    deadline=None,  # steps wait on a real bot: their time says nothing about correctness
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=not FULL,  # CI replays the same sequences every run; full runs explore
    print_blob=True,
)
