"""Parts of large sealed files, held until every part of a file is on the desk.

A report too large for one Telegram upload arrives as numbered parts (docs/crypto.md, "Parts of
a sealed report file"), dropped or saved one by one, in any order. Each part is checked when it
arrives — bot signature, certificate, the pinned organisation key (I9) — and only then held; a
part that cannot belong with the parts already held of its file (another file under the same
case and sequence, the same part with other bytes) is refused at once. When the last part comes,
the parts are joined and checked as ``sanad caseworker open`` joins them
(:func:`desk.opening.whole_file`), and the whole file is handed back to be opened as any other.

Parts are held in memory only, as the bot sealed them (nothing of them is readable without the
key), and are forgotten when the desk locks. What is held is capped (:data:`MAX_HELD_BYTES`):
every part held is signed by the bot, but genuine parts of other files can still be given over
and over, and the desk must not grow without bound; past the cap a part is refused
(:class:`TooManyParts`) and the caseworker told so — except the last part of a file, which is
joined and let go at once, so that a file can always be finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from crypto.sealed_parts import PartsDoNotJoin, SealedPart, read_sealed_part
from desk.opening import OpeningKey, whole_file

#: The most bytes of parts held at once: a report of about 1 GB, far above the bot's default
#: limits (ten files of 20 MiB), and well within a laptop's memory.
MAX_HELD_BYTES = 1 << 30


class TooManyParts(Exception):
    """Holding this part would pass the cap on what is held."""


@dataclass(frozen=True)
class Waiting:
    """A file some of whose parts are held: what the inbox lists, and a drop answers."""

    reference: str
    sequence: int
    held: int
    count: int


@dataclass
class _File:
    """The parts held of one file, by index, and what every part of that file must name."""

    identity: tuple[bytes, int, bytes]  # report id, part count, SHA-256 of the whole file
    parts: dict[int, bytes] = field(default_factory=dict)


def _identity(part: SealedPart) -> tuple[bytes, int, bytes]:
    return part.report_id, part.count, part.file_hash


class HeldParts:
    """The parts held for one unlocked desk.

    ``kept`` gives the sealed file the desk already keeps under a SHA-256 (hex), or None: a part
    of a file already on the desk is that file again (the repeat I8 allows), not a new wait.
    """

    def __init__(
        self,
        opening: OpeningKey,
        *,
        kept: Callable[[str], bytes | None],
        max_bytes: int = MAX_HELD_BYTES,
    ) -> None:
        self._opening = opening
        self._kept = kept
        self._max_bytes = max_bytes
        self._files: dict[tuple[str, int], _File] = {}
        self.held_bytes = 0

    def add(self, data: bytes) -> Waiting | bytes:
        """Check and hold one part; the whole file once every part is held.

        Raises what :func:`crypto.sealed_parts.read_sealed_part` and
        :func:`desk.opening.whole_file` raise (a complete set that does not join is let go),
        PartsDoNotJoin for a part that cannot belong with those held, and TooManyParts.
        """
        part = read_sealed_part(data, self._opening.organisation)
        already = self._kept(part.file_hash.hex())
        if already is not None:
            return already
        key = (part.case_reference, part.sequence)
        held = self._files.get(key)
        if held is not None and held.identity != _identity(part):
            raise PartsDoNotJoin(
                "these parts come from different files: give only the parts of one file"
            )
        if held is not None and part.index in held.parts:
            if held.parts[part.index] != data:
                raise PartsDoNotJoin(f"{part.label()} is given twice with different contents")
            return self._waiting(key, held)
        held = held or _File(_identity(part))
        if len(held.parts) + 1 == part.count:  # the last part: joined and let go at once
            self._files.pop(key, None)
            self.held_bytes -= sum(len(p) for p in held.parts.values())
            return whole_file([*held.parts.values(), data], self._opening)
        if self.held_bytes + len(data) > self._max_bytes:
            raise TooManyParts
        held.parts[part.index] = data
        self._files[key] = held
        self.held_bytes += len(data)
        return self._waiting(key, held)

    def waiting(self) -> list[Waiting]:
        """Every file with parts held, by case reference and sequence."""
        return [self._waiting(key, self._files[key]) for key in sorted(self._files)]

    @staticmethod
    def _waiting(key: tuple[str, int], held: _File) -> Waiting:
        return Waiting(key[0], key[1], len(held.parts), held.identity[1])
