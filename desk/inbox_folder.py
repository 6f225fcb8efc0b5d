"""The inbox folder: which of its files the desk reads, when, and how much of them.

The inbox is the Downloads folder, where anything can land — a browser's download, a file from a
synced or shared folder, an unpacked archive — so what is read is bounded before it is read:

- Only regular files named ``case-*.sanad`` (a named pipe or a device under that name would make
  reading wait for ever), and none over :data:`desk.casebook.MAX_FILE_BYTES` by its size;
  reading stops one byte past the bound even if the file grows meanwhile, and such a file is
  handed back as :class:`TooLarge`, unread.
- Not a file still being written. Browsers write a download under another name (Chrome and Edge
  ``NAME.crdownload``, Firefox ``NAME.part``, Safari inside a ``NAME.download`` folder), which the
  pattern does not match; Firefox keeps the final name meanwhile with an empty file, and an empty
  file is never read. A file is looked at before and after it is read: if it changed between
  the two looks (its size, time or identity), or the bytes read are not its size, it is not
  judged but left for the next look. (One read before a stalled download resumed is judged, and
  refused as damaged; :meth:`desk.casebook.CaseBook.take` drops that refusal once the finished
  file is taken.)
- Each file again whenever it may have changed: a file is known by its size, its modification
  time in nanoseconds, and its identity (device and inode, on Windows the volume and file
  index), so a file renamed over another — how a browser finishes a download — is new even with
  the same size and time. A file rewritten in place within its file system's time tick keeps
  all four; as Git does for files modified as its index was written, a file whose time is within
  :data:`SETTLE_NS` of the look is not remembered, and is read again at the next look.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from desk.casebook import MAX_FILE_BYTES

PATTERN = "case-*.sanad"
#: How long after its modification time a file may still change without its time changing:
#: FAT's two-second tick, the coarsest of the file systems a Downloads folder is on.
SETTLE_NS = 2_000_000_000


@dataclass(frozen=True)
class TooLarge:
    """A file over the bound, not read."""


def _signature(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


class InboxFolder:
    """The files of one inbox folder the desk has not yet read as they are now.

    ``clock`` is the wall clock in nanoseconds (the seam the time tick is judged against).
    """

    def __init__(
        self,
        folder: Path,
        *,
        max_bytes: int = MAX_FILE_BYTES,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.folder = folder
        self._max_bytes = max_bytes
        self._clock = clock
        self._seen: dict[str, tuple[int, int, int, int]] = {}

    def forget(self) -> None:
        """Read every file again at the next look (the desk was unlocked anew)."""
        self._seen.clear()

    def new_files(self) -> Iterator[tuple[str, bytes | TooLarge]]:
        """Each file new or changed since it was last read, by name, with its bytes (or
        :class:`TooLarge`); a file being written, or not a regular file, is passed over."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob(PATTERN)):
            found = self._read(path)
            if found is not None:
                yield path.name, found

    def _read(self, path: Path) -> bytes | TooLarge | None:
        """``path``'s bytes or :class:`TooLarge` if it is new and settled enough to judge."""
        try:
            before = path.stat()
        except OSError:
            return None
        if self._seen.get(path.name) == _signature(before):
            return None
        if not stat.S_ISREG(before.st_mode) or before.st_size == 0:
            return None
        if before.st_size > self._max_bytes:
            self._remember(path.name, before)
            return TooLarge()
        try:
            with path.open("rb") as file:
                data = file.read(self._max_bytes + 1)
            after = path.stat()
        except OSError:  # gone, or held by its writer (Windows): the next look tries again
            return None
        if len(data) > self._max_bytes:
            return TooLarge()  # grew past the bound while read: the next look sees its size
        if _signature(after) != _signature(before) or len(data) != before.st_size:
            return None
        self._remember(path.name, after)
        return data

    def _remember(self, name: str, info: os.stat_result) -> None:
        """Pass over this file until it changes, unless it may still change unseen."""
        if self._clock() - info.st_mtime_ns >= SETTLE_NS:
            self._seen[name] = _signature(info)
        else:
            self._seen.pop(name, None)
