"""Bounds across reporters: memory held by open drafts, reports per person a day, free disk.

The per-file and per-draft limits (``max_file_bytes``, ``max_files``) bound one conversation; an
adversary with many accounts opens many (DESIGN.md §2, adversary 1). These three bound the sum,
so that no number of accounts can take the bot's memory or disk, and each answers with a
translated refusal while the draft so far is kept (I8):

- :class:`MemoryBudget` — bytes of cleaned evidence held by all open drafts together (the
  drafts live in memory only, I1). A file that would take the total past it is refused before it
  is downloaded; its place is given back when the draft is wiped (or, should a draft ever be
  dropped without being wiped, when its attachment is collected).
- :class:`ReportQuota` — reports one person may submit in a UTC day, counted in memory only under
  the daily pseudonyms of :mod:`handlers.pseudonyms` (I2), like the flood limit. A restart
  forgets the counts: the quota slows a spammer down, it is not an accounting.
- :class:`FreeDisk` — room left on the filesystems the bot writes to (the state directory and the
  SQLite database), checked before a file is accepted and before a report is committed, so that
  a full disk is a clear "could not save, nothing was kept" rather than a failed write midway.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from handlers.pseudonyms import DailyPseudonyms


class Reservation:
    """Bytes held against a :class:`MemoryBudget`; :meth:`release` gives them back, once."""

    def __init__(self, budget: MemoryBudget, size: int) -> None:
        self._budget: MemoryBudget | None = budget
        self.size = size

    def resize(self, size: int) -> bool:
        """Hold ``size`` bytes instead (a file's cleaned size, known after cleaning); False,
        holding what it held, when growing would take the budget past its limit."""
        if self._budget is None:
            return False
        if not self._budget._grow(size - self.size):
            return False
        self.size = size
        return True

    def release(self) -> None:
        """Give the bytes back; later calls do nothing."""
        budget, self._budget = self._budget, None
        if budget is not None:
            budget._grow(-self.size)

    def tie_to(self, owner: object) -> None:
        """Also release when ``owner`` is collected, should nothing have released it before."""
        weakref.finalize(owner, self.release)


class MemoryBudget:
    """Bytes of evidence all open drafts may hold together.

    Thread-safe (a draft may be collected on any thread).
    """

    def __init__(self, limit_bytes: int) -> None:
        if limit_bytes < 1:
            raise ValueError("limit_bytes must be at least 1")
        self.limit_bytes = limit_bytes
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Bytes held now, by every open draft together."""
        with self._lock:
            return self._held

    def reserve(self, size: int) -> Reservation | None:
        """Hold ``size`` bytes, or None when that would take the total past the limit."""
        return Reservation(self, size) if self._grow(size) else None

    def _grow(self, delta: int) -> bool:
        with self._lock:
            if delta > 0 and self._held + delta > self.limit_bytes:
                return False
            self._held = max(0, self._held + delta)
            return True


@cache
def shared_memory_budget(limit_bytes: int) -> MemoryBudget:
    """The process's one budget of ``limit_bytes``: both reporter flows draw on the same one."""
    return MemoryBudget(limit_bytes)


def _free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


@dataclass(frozen=True)
class FreeDisk:
    """Room the bot must keep free on each of ``paths`` (nothing to check without paths).

    A path that does not exist yet is checked at its nearest existing parent.
    """

    paths: Sequence[Path] = ()
    min_free_bytes: int = 0
    free_bytes: Callable[[Path], int] = field(default=_free_bytes, repr=False, compare=False)

    def has_room(self, extra_bytes: int = 0) -> bool:
        """Whether every path keeps ``min_free_bytes`` free after ``extra_bytes`` more."""
        for path in self.paths:
            existing = path
            while not existing.exists() and existing != existing.parent:
                existing = existing.parent
            try:
                free = self.free_bytes(existing)
            except OSError:
                return False  # a filesystem the bot cannot even ask about is not one to write to
            if free - extra_bytes < self.min_free_bytes:
                return False
        return True


class ReportQuota:
    """At most ``per_day`` reports per person and UTC day, in memory, under daily pseudonyms.

    Not thread-safe: call it from the event loop only (handlers do).
    """

    def __init__(self, per_day: int, *, clock: Callable[[], float] = time.time) -> None:
        if per_day < 1:
            raise ValueError("per_day must be at least 1")
        self.per_day = per_day
        self._clock = clock
        self._pseudonyms = DailyPseudonyms()
        self._counts: dict[bytes, int] = {}

    def __repr__(self) -> str:
        return f"ReportQuota(per_day={self.per_day}, tracked={len(self._counts)})"

    def _key(self, user_id: int) -> bytes:
        pseudonym, new_day = self._pseudonyms.of(user_id, self._clock())
        if new_day:
            self._counts.clear()  # a new day: yesterday's counts and pseudonyms go together
        return pseudonym

    def allows(self, user_id: int) -> bool:
        """Whether ``user_id`` may submit one more report today."""
        return self._counts.get(self._key(user_id), 0) < self.per_day

    def record(self, user_id: int) -> None:
        """Count one committed report of ``user_id``."""
        key = self._key(user_id)
        self._counts[key] = self._counts.get(key, 0) + 1

    @property
    def tracked(self) -> int:
        """How many pseudonyms are held (a count, for tests)."""
        return len(self._counts)
