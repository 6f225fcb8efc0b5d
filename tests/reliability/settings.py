"""How long the reliability suite runs: short in CI, full length on demand.

``SANAD_RELIABILITY_FULL=1`` runs every long test at full length: the state machine's examples
and steps, and the soak's reporters and minutes (docs/BENCHMARKS.md, "Reliability").
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FULL = os.environ.get("SANAD_RELIABILITY_FULL") == "1"

STATE_MACHINE = settings(
    max_examples=60 if FULL else 3,
    stateful_step_count=60 if FULL else 20,
    deadline=None,  # steps wait on a real bot: their time says nothing about correctness
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=not FULL,  # CI runs the same sequences every time; full runs explore
    print_blob=True,
)
