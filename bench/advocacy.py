"""Advocacy statistics: how long counting and small-cell suppression take as reports grow.

Run from the repository root::

    python -m bench.advocacy [--reports 60 400 1000] [--seeds 3]

For each number of consented reports (spread over incident types, platforms, countries, months
and platform responses as tests/evidence/advocacy_data.py spreads them, one draw per seed), it
times :func:`desk.advocacy.counts.count` and :func:`desk.advocacy.suppression.publish` (no files
written, no charts) and counts the hidden cells and withheld cross-tabulations. It prints one
JSON object. Suppression searches for alternative tables with a bounded budget per cell
(:class:`desk.advocacy.suppression._Graph`), so its time should stay in seconds at any size.
"""

from __future__ import annotations

import argparse
import json
import time

from desk.advocacy.counts import count
from desk.advocacy.records import advocacy_record
from desk.advocacy.suppression import publish
from tests.evidence.advocacy_data import make_cases


def measure(reports: int, seed: int) -> dict[str, object]:
    records = [
        r for c in make_cases(reports, 0, seed=seed) if (r := advocacy_record(c.reference, c.body))
    ]
    start = time.perf_counter()
    counts = count(records)
    counted = time.perf_counter()
    published = publish(counts)
    done = time.perf_counter()
    cells = [c for t in published.cross.values() for c in t.cells.values()]
    cells += [c for t in published.one_way.values() for c in t.cells.values()]
    return {
        "reports": reports,
        "seed": seed,
        "count_seconds": round(counted - start, 4),
        "publish_seconds": round(done - counted, 3),
        "cells": len(cells),
        "hidden_small": sum(c.shown == "<5" for c in cells),
        "hidden_complement": sum(c.shown == "x" for c in cells),
        "withheld_cross_tables": sum(t.withheld for t in published.cross.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, nargs="+", default=[60, 400, 1000])
    parser.add_argument("--seeds", type=int, default=3)
    arguments = parser.parse_args()
    runs = [measure(n, seed) for n in arguments.reports for seed in range(1, arguments.seeds + 1)]
    print(json.dumps({"runs": runs}, indent=1))


if __name__ == "__main__":
    main()
