"""The desk's data folder: the sealed files as received, and the desk's own sealed state.

Nothing here is plaintext (DESIGN.md §1, the caseworker's laptop): the files are kept exactly as
the bot sealed and signed them, under the SHA-256 of their bytes (so a file dropped twice is
stored once), and everything the desk knows beyond them — each case's state, the reply numbers
used, private notes, the day each file arrived — is one record sealed to the caseworker's own
key (:mod:`crypto.desk_state`), replaced atomically on every change. The folder and its files are
owner-only where the system has modes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from crypto.desk_state import open_desk_record, seal_desk_record
from crypto.keyfile import write_private_file
from crypto.keys import X25519PublicKey, X25519SecretKey

_FILES = "files"
_STATE = "state.sealed"
_PURPOSE = "state"
_PRIVATE_DIR_MODE = 0o700


class CaseState:
    """What the caseworker has done with a case; kept by the desk, never told to the bot."""

    NEW = "new"
    READ = "read"
    REPLIED = "replied"
    CLOSED = "closed"


@dataclass
class Note:
    """A private note: when it was written (UTC, to the minute) and its text."""

    written: str
    text: str


@dataclass
class CaseRecord:
    """The desk's own record of one case."""

    received: str
    state: str = CaseState.NEW
    read: list[int] = field(default_factory=list)  # sequence numbers the caseworker has seen
    replies: int = 0  # reply files written; the next one is number replies + 1
    notes: list[Note] = field(default_factory=list)


@dataclass
class DeskState:
    """Everything the desk keeps beyond the sealed files, sealed as one record."""

    cases: dict[str, CaseRecord] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> DeskState:
        raw = json.loads(data)
        cases = {
            reference: CaseRecord(
                received=str(case["received"]),
                state=str(case["state"]),
                read=[int(n) for n in case["read"]],
                replies=int(case["replies"]),
                notes=[Note(str(n["written"]), str(n["text"])) for n in case["notes"]],
            )
            for reference, case in raw["cases"].items()
        }
        return cls(cases)


class DeskStore:
    """The data folder of one caseworker's desk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files = folder / _FILES
        self._files.mkdir(mode=_PRIVATE_DIR_MODE, parents=True, exist_ok=True)

    @staticmethod
    def digest(data: bytes) -> str:
        """The name a sealed file is kept under: the SHA-256 of its bytes."""
        return hashlib.sha256(data).hexdigest()

    def keep(self, data: bytes) -> str:
        """Keep a verified sealed file (still sealed) and return its digest; once per content."""
        digest = self.digest(data)
        path = self._files / f"{digest}.sanad"
        if not path.exists():
            write_private_file(path, data)
        return digest

    def kept(self, digest: str) -> bytes | None:
        """The sealed file kept under ``digest`` (see :meth:`digest`), or None."""
        path = self._files / f"{digest}.sanad"
        return path.read_bytes() if path.is_file() else None

    def sealed_files(self) -> list[bytes]:
        """Every sealed file kept, in name order."""
        return [path.read_bytes() for path in sorted(self._files.glob("*.sanad"))]

    def load_state(self, owner: X25519SecretKey) -> DeskState:
        """The desk's state, opened with the caseworker's key; empty before the first save.

        Raises ``crypto.OpenFailure`` when the state was sealed to another key or altered.
        """
        path = self.folder / _STATE
        if not path.exists():
            return DeskState()
        return DeskState.from_bytes(open_desk_record(_PURPOSE, path.read_bytes(), owner))

    def save_state(self, state: DeskState, owner: X25519PublicKey) -> None:
        """Seal ``state`` to the caseworker's key and replace the stored one atomically."""
        sealed = seal_desk_record(_PURPOSE, state.to_bytes(), owner)
        write_private_file(self.folder / _STATE, sealed, replace=True)
