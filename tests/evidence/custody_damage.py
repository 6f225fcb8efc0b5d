"""Custody logs damaged as they are in life, for the tests of what reads them.

A copy cut short (a crash, a full disk, a sync tool), one byte edited, a record taken out (the
chain breaks), a record added by someone who knows only the caseworker's public key (its
signature is not theirs), and the file opened and saved by a text editor (its bytes are no
longer records at all).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from crypto.custody import seal_custody_entry
from crypto.keys import CaseworkerKeys
from desk.evidence.custody import LOG_NAME, CustodyLog

AT = dt.datetime(2026, 12, 6, 18, 30, tzinfo=dt.UTC)


def records(path: Path) -> list[bytes]:
    """The log's records, each with its 4-byte length."""
    data, found, position = path.read_bytes(), [], 0
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        found.append(data[position : position + 4 + length])
        position += 4 + length
    return found


def write_history(path: Path, keys: CaseworkerKeys, case: str) -> CustodyLog:
    """A sound log of three events, two of them of ``case``."""
    log = CustodyLog(path, keys)
    log.record(case, "opened", AT)
    log.record("A1B-2C3D", "opened", AT + dt.timedelta(minutes=1))
    log.record(case, "packaged", AT + dt.timedelta(minutes=2))
    return log


def forged_record(path: Path, keys: CaseworkerKeys) -> bytes:
    """A well-chained record sealed to the caseworker's public key but signed by another key."""
    forger = CaseworkerKeys(keys.encryption, CaseworkerKeys.generate().signing)
    previous = hashlib.sha256(records(path)[-1][4:]).hexdigest()
    entry = {"case": "K7Q-4M2P", "event": "opened", "at": AT.isoformat(), "previous": previous}
    forged = seal_custody_entry(json.dumps(entry).encode(), forger)
    return len(forged).to_bytes(4, "big") + forged


def _flipped(record: bytes) -> bytes:
    middle = len(record) // 2
    return record[:middle] + bytes([record[middle] ^ 0x20]) + record[middle + 1 :]


#: Each damage: the log's path and keys → the damaged log's bytes.
DAMAGES: dict[str, Callable[[Path, CaseworkerKeys], bytes]] = {
    "cut short": lambda path, _: path.read_bytes()[:-3],
    "byte edited": lambda path, _: b"".join(
        [r if n != 1 else _flipped(r) for n, r in enumerate(records(path))]
    ),
    "record taken out": lambda path, _: b"".join(records(path)[::2]),
    "record signed by another key": lambda path, keys: (
        path.read_bytes() + forged_record(path, keys)
    ),
    "saved by a text editor": lambda path, _: path.read_bytes().decode("utf-8", "replace").encode(),
}


def damage(path: Path, keys: CaseworkerKeys, how: str) -> bytes:
    """Damage the log at ``path`` in the way named ``how``; returns its bytes now."""
    damaged = DAMAGES[how](path, keys)
    path.write_bytes(damaged)
    return damaged


def damaged_log_beside(key_file: Path, keys: CaseworkerKeys, case: str, how: str) -> Path:
    """The caseworker's log beside ``key_file``: :func:`write_history`, then damaged ``how``."""
    log = key_file.parent / LOG_NAME
    write_history(log, keys, case)
    damage(log, keys, how)
    return log
