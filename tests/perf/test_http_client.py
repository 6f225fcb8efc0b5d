"""The Bot API client's own cost per call (docs/BENCHMARKS.md, "A lighter conversation step").

These check the conditions a cheap call depends on, not timings (which tests never assert).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

from httpcore._synchronization import current_async_library


class _CountingFinder(importlib.abc.MetaPathFinder):
    """Counts every module search the import system makes while it is installed."""

    def __init__(self) -> None:
        self.searches: list[str] = []

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        self.searches.append(fullname)
        return None


async def test_async_library_lookup_searches_no_module_per_call() -> None:
    """httpcore runs this before every request; a module it imports and cannot find is searched
    for on every path, on every call (sniffio is a dependency for that reason)."""
    current_async_library()  # the first call may import
    finder = _CountingFinder()
    sys.meta_path.insert(0, finder)
    try:
        for _call in range(10):
            assert current_async_library() == "asyncio"
    finally:
        sys.meta_path.remove(finder)
    assert finder.searches == []
