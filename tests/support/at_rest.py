"""Looking for secrets at rest: in a SQLite file and its companions, in logs, in any bytes.

I1 and I2 are checked by grepping what an adversary who seizes the server would read. A
Telegram user id can sit in a file as decimal text or as a packed integer, so each is looked for
in every form a careless encoding would give it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

# SQLite's companions of a database file: the write-ahead log, its index, a rollback journal.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def identifier_forms(user_id: int) -> list[bytes]:
    """How a user id could sit in a file: decimal text, or big/little-endian integers."""
    return [
        str(user_id).encode(),
        user_id.to_bytes(8, "big"),
        user_id.to_bytes(8, "little"),
        user_id.to_bytes(6, "big"),
    ]


def sqlite_files(path: Path) -> dict[str, bytes]:
    """The bytes of a SQLite database file and of each companion file that exists now."""
    candidates = [path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)]
    return {str(p): p.read_bytes() for p in candidates if p.is_file()}


def assert_absent(files: Mapping[str, bytes], needles: Iterable[bytes]) -> None:
    """Fail, naming the file but not the needle's bytes, if any needle occurs in any file."""
    wanted = list(needles)
    for name, content in files.items():
        for index, needle in enumerate(wanted):
            assert needle not in content, f"needle {index} is in {Path(name).name}"
