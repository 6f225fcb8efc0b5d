"""Sealed report files as caseworkers see them: the neutral name and caption, and the record of
files already opened into a folder.

Both sides use this module: the forward job names and captions each file it sends
(:mod:`bot.services.delivery`), and ``sanad caseworker open|reply`` on the caseworker's machine
finds the report file by that name and recognises the one repeat I8 allows (a crash between
Telegram's acknowledgement and the commit recording it). It needs no database and no Telegram,
so the caseworker's command line does not load them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

# The only words a caseworker's chat shows beside the file (STYLE.md: one place per module).
# Neutral on purpose: no date, language, kind or content, so a glance at an unlocked phone, or
# Telegram's own view of the chat, learns a case reference and a number and nothing else.
_FILE_NAME = "case-{reference}-{sequence}.sanad"
_CAPTION = "{reference} #{sequence}"
_PART_FILE_NAME = "case-{reference}-{sequence}.part{number}of{count}.sanad"
_PART_CAPTION = "{reference} #{sequence} (part {number}/{count})"


def delivery_file_name(case_reference: str, sequence: int) -> str:
    """``case-K7Q4M2P-0.sanad``: the case reference and sequence number, nothing else."""
    return _FILE_NAME.format(reference=case_reference.replace("-", ""), sequence=sequence)


def delivery_caption(case_reference: str, sequence: int) -> str:
    """``K7Q-4M2P #0``: a repeat (I8) shows the same caption as the file it repeats."""
    return _CAPTION.format(reference=case_reference, sequence=sequence)


def part_file_name(case_reference: str, sequence: int, index: int, count: int) -> str:
    """``case-K7Q4M2P-0.part1of3.sanad`` for the first of three parts (docs/crypto.md, "Parts
    of a sealed report file"): parts are counted from 1, as people count them."""
    return _PART_FILE_NAME.format(
        reference=case_reference.replace("-", ""),
        sequence=sequence,
        number=index + 1,
        count=count,
    )


def part_caption(case_reference: str, sequence: int, index: int, count: int) -> str:
    """``K7Q-4M2P #0 (part 1/3)``: as neutral as a whole file's caption, plus which part."""
    return _PART_CAPTION.format(
        reference=case_reference, sequence=sequence, number=index + 1, count=count
    )


#: The manifest's file name inside the folder ``sanad caseworker open --out`` writes to.
MANIFEST_NAME = ".sanad-opened.json"


class OpenedManifest:
    """The files already opened into one folder: (case reference, sequence, body hash).

    I8 allows one kind of repeat, and it carries the same case reference and sequence number as
    the file it repeats; this manifest lets ``sanad caseworker open`` say so instead of leaving
    the caseworker to wonder whether a second report arrived. It holds no content: a case
    reference, a number and a SHA-256 of the still sealed body. The file is written owner-only,
    replaced atomically, and a damaged manifest is treated as empty rather than blocking an open.
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
        temporary = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"opened": sorted(self._entries)}, handle)
        os.replace(temporary, self._path)
