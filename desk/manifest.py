"""The record of sealed files already opened into one folder (I8's one allowed repeat).

I8 allows one kind of repeat — a crash between Telegram's acknowledgement and the commit
recording it sends a file twice — and it carries the same case reference and sequence number as
the file it repeats; this manifest lets ``sanad caseworker open`` say so instead of leaving the
caseworker to wonder whether a second report arrived.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from crypto.keyfile import write_private_file

#: The manifest's file name inside the folder ``sanad caseworker open --out`` writes to.
MANIFEST_NAME = ".sanad-opened.json"


class OpenedManifest:
    """The files already opened into one folder: (case reference, sequence, body hash).

    It holds no content: a case reference, a number and a SHA-256 of the still sealed body. The
    file is written owner-only, replaced atomically, and a damaged manifest is treated as empty
    rather than blocking an open.
    """

    def __init__(self, folder: Path) -> None:
        self._path = folder / MANIFEST_NAME
        self._entries: set[tuple[str, int, str]] = set()
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
            self._entries = {(str(r), int(s), str(h)) for r, s, h in raw["opened"]}
        except (OSError, ValueError, KeyError, TypeError):
            self._entries = set()

    @staticmethod
    def body_hash(body_sealed: bytes) -> str:
        """The hash that tells a repeat (same bytes) from a different file with the same label."""
        return hashlib.sha256(body_sealed).hexdigest()

    def repeats(self, case_reference: str, sequence: int, body_sealed: bytes) -> bool:
        """True if this very file (same case, sequence and sealed body) was opened here before."""
        return (case_reference, sequence, self.body_hash(body_sealed)) in self._entries

    def record(self, case_reference: str, sequence: int, body_sealed: bytes) -> None:
        """Remember this file as opened; writes the manifest."""
        self._entries.add((case_reference, sequence, self.body_hash(body_sealed)))
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        document = json.dumps({"opened": sorted(self._entries)}).encode()
        write_private_file(self._path, document, replace=True)
