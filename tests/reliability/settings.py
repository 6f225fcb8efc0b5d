"""How long the reliability suite runs: short in CI, full length on demand.

``SANAD_RELIABILITY_FULL=1`` runs every long test at full length: the state machine's examples
and steps, and the soak's reporters and minutes (docs/BENCHMARKS.md, "Reliability").
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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


@dataclass(frozen=True)
class SoakSettings:
    """The soak's load: simulated reporters, how long, and when the bot is restarted."""

    reporters: int
    seconds: float
    # Memory is compared between this many seconds after the last start and the end.
    memory_mark_seconds: float
    # Seconds into the run at which the bot is stopped with SIGTERM, then with SIGKILL, and (on
    # PostgreSQL, several instances) its leader is killed.
    sigterm_at: float
    sigkill_at: float
    leader_killed_at: float
    # How long a reporter reads an answer before acting again, at least and at most.
    think_seconds: tuple[float, float]
    # Whether memory at the end must be within 10% of memory at the mark: CI's mark, seconds
    # after the last start, is in warm-up (caches filling), so CI prints the figures and leaves
    # the bound to the full run.
    memory_bound: bool
    # Whether to wait for held messages' erasure (erase_journal.OUTSIDE_HOLD, two minutes, and
    # the erase job's minute) and then require an empty housekeeping table.
    final_purge: bool


SOAK = (
    SoakSettings(reporters=200, seconds=600, memory_mark_seconds=60, sigterm_at=90,
                 sigkill_at=180, leader_killed_at=270, think_seconds=(1.0, 4.0), memory_bound=True,
                 final_purge=True)
    if FULL
    # CI: a few dozen reporters for the two minutes with both restarts (and, on
    # PostgreSQL, the leader's kill); the memory bound (the mark is still in warm-up) and the
    # final purge's three-minute wait are left to the full run.
    else SoakSettings(reporters=24, seconds=120, memory_mark_seconds=12, sigterm_at=15,
                      sigkill_at=35, leader_killed_at=55, think_seconds=(0.1, 0.4),
                      memory_bound=False, final_purge=False)
)
