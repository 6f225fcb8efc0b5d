"""Fixtures shared by every test package, and how the suite is spread over the machine's cores.

``pyproject.toml`` runs the suite with pytest-xdist (``--numprocesses=auto --dist=worksteal``):
most tests wait on processes, sockets and PostgreSQL rather than compute, and every test
already has its own folders, ports, PostgreSQL schema or database and bot, so workers never meet.
Work stealing hands each worker an even, contiguous share of the collection, in order (so a
module's fixtures are mostly built once), and a worker that runs out takes tests from the end of
another's share. ``-n 0`` runs serially.
"""

from __future__ import annotations

import os

import pytest

from tests.support.clock import utc_day
from tests.support.mounts import tmpfs

__all__ = ["tmpfs", "utc_day"]

#: Workers at most. Each one starts bots, local Bot API servers and a browser of its own; four
#: was checked on two cores (twice the cores, the suite stayed green) and gained nothing more.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per core, up to :data:`MAX_WORKERS`; none with ``-s``.

    ``-s`` asks for a test's output on this terminal (the soak's and the benchmarks' JSON lines),
    which only a run in this process prints.
    """
    if config.option.capture == "no":
        return 0
    return min(_usable_cores(), MAX_WORKERS)


def _usable_cores() -> int:
    """The cores this process may run on (``taskset``, a container's CPU set), where the system
    tells; otherwise all of the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests marked ``long`` (minutes each) first, keeping the order otherwise.

    Each worker runs its share in collection order: a soak met last would run while the other
    workers sit idle, adding its minutes to the whole run; met first, the others' tests fill them.
    """
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
