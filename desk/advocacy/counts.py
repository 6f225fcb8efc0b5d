"""Unsuppressed counts of consented reports: by each dimension and by each pair of dimensions.

These are the raw material of everything published. They stay on a caseworker's computer, or
travel signed to whoever merges the organisation's exports (:mod:`desk.advocacy.signed`); small
cells are hidden only when tables are published (:mod:`desk.advocacy.suppression`), and only on
the totals being published, so merging never sums numbers that were already rounded away.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from desk.advocacy.records import AdvocacyRecord, Dimension

# Every pair of dimensions, in the order of Dimension: the cross-tabulations published.
PAIRS: tuple[tuple[Dimension, Dimension], ...] = tuple(itertools.combinations(Dimension, 2))
_DATED = re.compile(r"[0-9]{4}(-[0-9]{2})?\Z")


class DuplicateCase(ValueError):
    """The same case would be counted twice."""

    def __init__(self, case_reference: str) -> None:
        super().__init__(f"case {case_reference} is counted twice")
        self.case_reference = case_reference


@dataclass
class Counts:
    """How many consented reports have each value, and each pair of values, and which cases."""

    cases: frozenset[str] = frozenset()
    one_way: dict[Dimension, Counter[str]] = field(
        default_factory=lambda: {d: Counter() for d in Dimension}
    )
    cross: dict[tuple[Dimension, Dimension], Counter[tuple[str, str]]] = field(
        default_factory=lambda: {pair: Counter() for pair in PAIRS}
    )

    @property
    def total(self) -> int:
        """The number of reports counted."""
        return len(self.cases)

    def date_range(self) -> tuple[str, str] | None:
        """The earliest and latest incident month (or year) counted, or None if none is known."""
        dated = sorted(v for v in self.one_way[Dimension.MONTH] if _DATED.match(v))
        return (dated[0], dated[-1]) if dated else None


def count(records: Iterable[AdvocacyRecord]) -> Counts:
    """The counts of ``records``; raises :class:`DuplicateCase` if a case comes twice."""
    counts = Counts()
    seen: set[str] = set()
    for record in records:
        if record.case_reference in seen:
            raise DuplicateCase(record.case_reference)
        seen.add(record.case_reference)
        for dimension in Dimension:
            counts.one_way[dimension][record.value(dimension)] += 1
        for first, second in PAIRS:
            counts.cross[first, second][record.value(first), record.value(second)] += 1
    counts.cases = frozenset(seen)
    return counts


def merge(parts: Iterable[Counts]) -> Counts:
    """The sum of ``parts``; raises :class:`DuplicateCase` for a case two of them counted."""
    merged = Counts()
    for part in parts:
        overlap = merged.cases & part.cases
        if overlap:
            raise DuplicateCase(min(overlap))
        merged.cases |= part.cases
        for dimension in Dimension:
            merged.one_way[dimension].update(part.one_way[dimension])
        for pair in PAIRS:
            merged.cross[pair].update(part.cross[pair])
    return merged


def counts_to_json(counts: Counts) -> dict[str, object]:
    """``counts`` as plain JSON values, in a canonical order (what a signed export holds)."""
    return {
        "cases": sorted(counts.cases),
        "one_way": {d.value: dict(sorted(counts.one_way[d].items())) for d in Dimension},
        "cross": {
            f"{a.value}/{b.value}": [[x, y, n] for (x, y), n in sorted(counts.cross[a, b].items())]
            for a, b in PAIRS
        },
    }


def counts_from_json(data: Mapping[str, object]) -> Counts:
    """The inverse of :func:`counts_to_json`; raises ValueError for anything else, including
    counts that do not add up to the number of cases."""
    try:
        cases = data["cases"]
        one_way = data["one_way"]
        cross = data["cross"]
        if not isinstance(cases, list) or not isinstance(one_way, dict):
            raise TypeError
        if not isinstance(cross, dict) or not all(isinstance(c, str) for c in cases):
            raise TypeError
        counts = Counts(cases=frozenset(cases))
        for dimension in Dimension:
            counts.one_way[dimension] = Counter(_counts(one_way[dimension.value]))
        for a, b in PAIRS:
            rows = cross[f"{a.value}/{b.value}"]
            counts.cross[a, b] = Counter({(str(x), str(y)): _number(n) for x, y, n in rows})
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("these are not Sanad advocacy counts") from exc
    if len(counts.cases) != len(cases) or not _consistent(counts):
        raise ValueError("these advocacy counts do not add up")
    return counts


def _counts(raw: object) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise TypeError
    return {str(key): _number(value) for key, value in raw.items()}


def _number(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError
    return value


def _consistent(counts: Counts) -> bool:
    """Every table counts every case once, and each pair's table agrees with both one-way ones."""
    if any(sum(counts.one_way[d].values()) != counts.total for d in Dimension):
        return False
    for a, b in PAIRS:
        rows: Counter[str] = Counter()
        columns: Counter[str] = Counter()
        for (x, y), n in counts.cross[a, b].items():
            rows[x] += n
            columns[y] += n
        if +rows != +counts.one_way[a] or +columns != +counts.one_way[b]:
            return False
    return True
