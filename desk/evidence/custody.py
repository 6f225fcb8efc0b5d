"""The custody log: every time this computer opened or packaged a case, sealed and signed.

An evidence package states when its case was opened and exported here; this log is where those
times come from. It is one file beside the caseworker's key file, a sequence of records (a
4-byte length, then a record :func:`crypto.custody.seal_custody_entry` sealed to the caseworker's
own key and signed by them). Each entry names the SHA-256 of the record before it, so the
records form a chain: one removed, moved or changed breaks it, and reading the log says so
rather than hand back a history with a hole in it. What the chain cannot show is the newest
records cut off the end; a package's manifest, signed when it is made, fixes the history up to
that moment.

An open with the organisation's recovery key (``caseworker open --key org-recovery.key``) is
logged in the same way in a log of its own beside that key file, :data:`RECOVERY_LOG_NAME`, as
an event naming the key (:data:`OPENED_WITH_RECOVERY_KEY`); its own file, so that a recovery key
kept in the caseworker's key folder never mixes records of two keys into one log.

The log is appended to, never rewritten: a crash mid-write leaves at most a torn last record,
reported as damage. A log that cannot be verified is never repaired, replaced or appended to
here: :class:`UnverifiedCustodyLog` says so, and the file stays as it is for whoever looks at it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from crypto.custody import open_custody_entry, recovery_custody_keys, seal_custody_entry
from crypto.errors import CryptoError
from crypto.keys import CaseworkerKeys, X25519SecretKey
from desk.errors import DeskError

LOG_NAME = "custody.log"
RECOVERY_LOG_NAME = "recovery-custody.log"
OPENED = "opened"
PACKAGED = "packaged"
OPENED_WITH_RECOVERY_KEY = "opened with the recovery key"
_LENGTH_BYTES = 4


class CustodyLogError(DeskError):
    """The custody log at ``path`` could not be used; the message says why."""

    def __init__(self, path: Path, failure: str, *, hint: str | None = None) -> None:
        super().__init__(f"the custody log {path} {failure}", hint=hint)
        self.path = path


class UnverifiedCustodyLog(CustodyLogError):
    """The log was changed, damaged or could not be read, so the history it holds cannot be
    trusted: no package may state it, and nothing is added to it until an admin has looked."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            path,
            f"could not be verified: {reason}",
            hint="do not package or export this case until an admin has looked; "
            "keep the log as it is",
        )


@dataclass(frozen=True)
class CustodyEvent:
    """Something that happened to a case on this computer, and when (UTC, to the second)."""

    case_reference: str
    event: str
    at: dt.datetime


class CustodyLog:
    """The custody log at ``path``, read and written with ``keys``: the caseworker's, or those
    of the recovery key (:meth:`beside_recovery_key`)."""

    def __init__(self, path: Path, keys: CaseworkerKeys) -> None:
        self._path = path
        self._keys = keys

    @classmethod
    def beside(cls, key_file: Path, keys: CaseworkerKeys) -> CustodyLog:
        """The log kept in the folder of the caseworker's key file."""
        return cls(key_file.parent / LOG_NAME, keys)

    @classmethod
    def beside_recovery_key(cls, key_file: Path, recovery: X25519SecretKey) -> CustodyLog:
        """The log of the opens made with the recovery key file ``key_file``, in its folder."""
        return cls(key_file.parent / RECOVERY_LOG_NAME, recovery_custody_keys(recovery))

    def events(self, case_reference: str | None = None) -> list[CustodyEvent]:
        """Every event (of one case, if given), oldest first; raises
        :class:`UnverifiedCustodyLog` if the log was tampered with, damaged or cannot be read."""
        return [e for e, _ in self._read() if case_reference in (None, e.case_reference)]

    def with_packaging(self, case_reference: str, at: dt.datetime) -> list[CustodyEvent]:
        """The case's history with this packaging (an open and an export) at its end, for a
        package's manifest; :meth:`record_packaging` logs them once the package is made, before it
        is written or sent, so that no package leaves without its record."""
        return [*self.events(case_reference), *_packaging(case_reference, at)]

    def record_packaging(self, case_reference: str, at: dt.datetime) -> None:
        """Log the open and the export of a package made at ``at``."""
        for event in _packaging(case_reference, at):
            self.record(event.case_reference, event.event, event.at)

    def record(self, case_reference: str, event: str, at: dt.datetime) -> CustodyEvent:
        """Append an event after checking the chain so far; returns it."""
        records = self._read()
        previous = records[-1][1] if records else ""
        entry = {
            "case": case_reference,
            "event": event,
            "at": at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "previous": previous,
        }
        sealed = seal_custody_entry(json.dumps(entry, sort_keys=True).encode(), self._keys)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(self._path, flags, 0o600)
            with os.fdopen(fd, "ab") as handle:
                handle.write(len(sealed).to_bytes(_LENGTH_BYTES, "big") + sealed)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:  # a read-only medium (a recovery key's USB stick), a full disk
            raise CustodyLogError(self._path, f"could not be written ({_reason(exc)})") from exc
        return CustodyEvent(case_reference, event, at)

    def _read(self) -> list[tuple[CustodyEvent, str]]:
        """Each event with the hash of its record, checking every link of the chain."""
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:  # a folder in its place, or a file this account may not read
            reason = f"it could not be read ({_reason(exc)})"
            raise UnverifiedCustodyLog(self._path, reason) from exc
        found: list[tuple[CustodyEvent, str]] = []
        position, previous = 0, ""
        try:
            while position < len(data):
                length = int.from_bytes(data[position : position + _LENGTH_BYTES], "big")
                sealed = data[position + _LENGTH_BYTES : position + _LENGTH_BYTES + length]
                if len(sealed) != length:
                    raise ValueError("torn record")
                entry = json.loads(open_custody_entry(sealed, self._keys))
                if entry["previous"] != previous:
                    raise ValueError("broken chain")
                at = dt.datetime.fromisoformat(entry["at"])
                previous = hashlib.sha256(sealed).hexdigest()
                found.append((CustodyEvent(str(entry["case"]), str(entry["event"]), at), previous))
                position += _LENGTH_BYTES + length
        except (CryptoError, ValueError, KeyError, TypeError) as exc:
            raise UnverifiedCustodyLog(self._path, "it was changed or damaged") from exc
        return found


def _reason(exc: OSError) -> str:
    return (exc.strerror or "input/output error").lower()


def _packaging(case_reference: str, at: dt.datetime) -> list[CustodyEvent]:
    return [
        CustodyEvent(case_reference, OPENED, at),
        CustodyEvent(case_reference, PACKAGED, at),
    ]
