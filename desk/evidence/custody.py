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
:meth:`CustodyLog.verify` is that look (``sanad caseworker custody``): the records that verify,
and at which record and why the chain breaks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from crypto.custody import open_custody_entry, recovery_custody_keys, seal_custody_entry
from crypto.errors import CryptoError, UnsupportedVersion
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


#: Why a record does not verify, in words for whoever looks at the log (:class:`ChainBreak`).
TORN = "the last record is cut short (torn), as by a crash or a full disk"
NOT_THIS_KEY = "the record was not sealed and signed with this key, or its bytes were changed"
BROKEN_LINK = "the record does not name the one before it (one was removed, moved or added)"
NOT_A_RECORD = "the record opens with this key but holds no custody entry"


@dataclass(frozen=True)
class ChainBreak:
    """The first record of a log that does not verify: its number (1 for the first), the byte
    offset where it starts, and why (:data:`TORN`, :data:`NOT_THIS_KEY`, :data:`BROKEN_LINK`,
    :data:`NOT_A_RECORD`, or a newer format's refusal)."""

    number: int
    offset: int
    reason: str


@dataclass(frozen=True)
class CustodyReading:
    """A log read as far as it verifies (:meth:`CustodyLog.verify`): its events, oldest first,
    and where the chain breaks (None when every record verified, or there is no log)."""

    path: Path
    events: tuple[CustodyEvent, ...]
    broken: ChainBreak | None
    exists: bool


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

    def verify(self) -> CustodyReading:
        """The whole log checked, for whoever looks at it: the events that verified, oldest
        first, and where the chain breaks if it does. Unlike :meth:`events`, damage is an
        answer, not an error; only a log that cannot be read at all raises
        :class:`UnverifiedCustodyLog`. Reads only: the file is left as it is."""
        data = self._bytes()
        if data is None:
            return CustodyReading(self._path, (), None, exists=False)
        found, broken = self._scan(data)
        return CustodyReading(self._path, tuple(e for e, _ in found), broken, exists=True)

    def _read(self) -> list[tuple[CustodyEvent, str]]:
        """Each event with the hash of its record, the whole chain verified."""
        data = self._bytes()
        if data is None:
            return []
        found, broken = self._scan(data)
        if broken is not None:
            raise UnverifiedCustodyLog(self._path, "it was changed or damaged")
        return found

    def _bytes(self) -> bytes | None:
        """The log's bytes, or None if there is no log yet."""
        try:
            return self._path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:  # a folder in its place, or a file this account may not read
            reason = f"it could not be read ({_reason(exc)})"
            raise UnverifiedCustodyLog(self._path, reason) from exc

    def _scan(self, data: bytes) -> tuple[list[tuple[CustodyEvent, str]], ChainBreak | None]:
        """Each event with the hash of its record, up to the first record that does not verify,
        and that record's place and why (None if every record verified)."""
        found: list[tuple[CustodyEvent, str]] = []
        position, previous = 0, ""
        while position < len(data):
            length = int.from_bytes(data[position : position + _LENGTH_BYTES], "big")
            end = position + _LENGTH_BYTES + length
            try:
                if end > len(data):  # also a length field itself cut short
                    raise _Broken(TORN)
                sealed = data[position + _LENGTH_BYTES : end]
                event = self._entry(sealed, previous)
            except _Broken as exc:
                return found, ChainBreak(len(found) + 1, position, exc.reason)
            previous = hashlib.sha256(sealed).hexdigest()
            found.append((event, previous))
            position = end
        return found, None

    def _entry(self, sealed: bytes, previous: str) -> CustodyEvent:
        """The event of one record, if it opens and verifies with this log's keys and names
        ``previous`` (the hash of the record before it); :class:`_Broken` otherwise."""
        try:
            entry = json.loads(open_custody_entry(sealed, self._keys))
        except UnsupportedVersion as exc:
            raise _Broken(str(exc)) from exc
        except CryptoError as exc:
            raise _Broken(NOT_THIS_KEY) from exc
        except ValueError as exc:  # sealed and signed with this key, but not JSON
            raise _Broken(NOT_A_RECORD) from exc
        try:
            event = CustodyEvent(
                str(entry["case"]), str(entry["event"]), dt.datetime.fromisoformat(entry["at"])
            )
            linked = entry["previous"] == previous
        except (ValueError, KeyError, TypeError) as exc:
            raise _Broken(NOT_A_RECORD) from exc
        if not linked:
            raise _Broken(BROKEN_LINK)
        return event


class _Broken(Exception):
    """A record that does not verify, and why (one of the reasons of :class:`ChainBreak`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reason(exc: OSError) -> str:
    return (exc.strerror or "input/output error").lower()


def _packaging(case_reference: str, at: dt.datetime) -> list[CustodyEvent]:
    return [
        CustodyEvent(case_reference, OPENED, at),
        CustodyEvent(case_reference, PACKAGED, at),
    ]
