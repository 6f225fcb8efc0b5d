"""A sealed report file too large for one upload, as numbered parts (docs/crypto.md, "Sealed
report file", "Parts of a sealed report file").

Telegram refuses an upload over 50 MB, and a report with its attachments can be larger. The bot
then cuts the complete, signed sealed report file into chunks and sends each as a part of its
own::

    "SANAD-PART\\n" || version (2) || case reference (u8 length, ASCII) || report id (16)
    || sequence (u32) || part index (u16) || part count (u16) || SHA-256 of the whole file (32)
    || chunk length (u32) || chunk || bot certificate length (u16) || bot certificate
    || Ed25519 signature by the bot key over everything before it (64)

Every part is signed by the bot and carries its certificate, and :func:`read_sealed_part`
checks signature → bot certificate → the organisation key the caseworker pinned before a part
is trusted (I9), exactly as :func:`crypto.sealed_file.read_sealed_file` does for a whole file:
someone who knows a caseworker's public key can make a part, but cannot sign as the bot.
:func:`join_sealed_parts` then checks that the parts make exactly one file (same report, same
sequence, same whole-file hash, every index from 0 to count - 1) and that the joined bytes are
that file, and verifies the joined file as a whole; opening it is the usual
:func:`crypto.sealed_file.open_sealed_file`.

Parts are public data (a bot signature over sealed bytes), so their errors are precise: a
caseworker needs to know that part 2 of 3 is missing, not only that something failed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from crypto._reader import Reader
from crypto.bot_certificate import BotCertificate
from crypto.errors import CryptoError, unsupported_version
from crypto.header import REPORT_ID_BYTES, check_binding
from crypto.keys import Ed25519PublicKey, Ed25519SigningKey
from crypto.sealed_file import (
    MalformedSealedFile,
    check_bot_signature,
    check_case_reference,
    read_case_reference,
    read_sealed_file,
)

MAGIC = b"SANAD-PART\n"
VERSION = 2
#: The most parts one file may be cut into (the count is a u16).
MAX_PARTS = 0xFFFF
_HASH_BYTES = 32
_BROKEN = "this sealed report part is damaged"


class PartsDoNotJoin(CryptoError):
    """These parts do not put back together into one sealed report file."""


@dataclass(frozen=True)
class SealedPart:
    """A part whose bot signature chains to the organisation key; its chunk is still sealed
    (a view into the part's bytes, not a copy: a report's parts can weigh hundreds of MB)."""

    case_reference: str
    report_id: bytes
    sequence: int
    index: int
    count: int
    file_hash: bytes
    chunk: memoryview = field(repr=False)
    bot: BotCertificate

    def label(self) -> str:
        """``part 2 of 3``: how people count parts (from 1)."""
        return f"part {self.index + 1} of {self.count}"


def is_sealed_part(data: bytes) -> bool:
    """True if ``data`` claims to be a part (its magic); nothing is verified."""
    return data.startswith(MAGIC)


def split_sealed_file(
    data: bytes,
    *,
    case_reference: str,
    report_id: bytes,
    sequence: int,
    part_size: int,
    bot_key: Ed25519SigningKey,
    bot_certificate: bytes,
) -> list[bytes]:
    """The sealed report file ``data`` as parts whose chunks hold at most ``part_size`` bytes,
    in order, each signed with ``bot_key`` and carrying ``bot_certificate``.

    ``case_reference``, ``report_id`` and ``sequence`` must be those of ``data``, or the parts
    will not join (:func:`join_sealed_parts` checks). Deterministic: the same file gives the same
    parts, so a resent set (I8) is byte for byte the set it repeats.
    """
    if part_size < 1 or not data:
        raise ValueError("a part holds at least one byte of a non-empty file")
    check_case_reference(case_reference)
    check_binding(report_id, sequence)
    count = -(-len(data) // part_size)
    if count > MAX_PARTS:
        raise ValueError("the file would need more parts than a part count can say")
    reference = case_reference.encode("ascii")
    head = b"".join(
        [
            MAGIC,
            bytes([VERSION, len(reference)]),
            reference,
            report_id,
            sequence.to_bytes(4, "big"),
        ]
    )
    tail = len(bot_certificate).to_bytes(2, "big") + bot_certificate
    file_hash = hashlib.sha256(data).digest()
    view = memoryview(data)  # slices of a view are not copies: one file in memory, not two
    parts = []
    for index in range(count):
        chunk = view[index * part_size : (index + 1) * part_size]
        signed = b"".join(
            [
                head,
                index.to_bytes(2, "big"),
                count.to_bytes(2, "big"),
                file_hash,
                len(chunk).to_bytes(4, "big"),
                chunk,
                tail,
            ]
        )
        parts.append(signed + bot_key.sign(signed))
    return parts


def read_sealed_part(
    data: bytes, org_public: Ed25519PublicKey, *, today: date | None = None
) -> SealedPart:
    """Parse one part and check who made it.

    Raises MalformedSealedFile for bytes that are not a part or are damaged in their layout,
    UnsupportedVersion (checked before anything else is read) for another format version, and
    UntrustedFile when the bot's signature, the bot certificate or its link to ``org_public``
    fails on ``today``.
    """
    if not is_sealed_part(data):
        raise MalformedSealedFile("this is not a part of a Sanad sealed report file")
    reader = Reader(data, MalformedSealedFile, _BROKEN, position=len(MAGIC))
    found = reader.number(1)
    if found != VERSION:
        raise unsupported_version("sealed report part", found, VERSION)
    case_reference = read_case_reference(reader)
    report_id = reader.take(REPORT_ID_BYTES)
    sequence = reader.number(4)
    index, count = reader.number(2), reader.number(2)
    if not index < count:
        raise reader.fail()
    file_hash = reader.take(_HASH_BYTES)
    chunk = reader.view(reader.number(4))
    if not chunk:
        raise reader.fail()
    bot = check_bot_signature(data, reader, org_public, today, what="part")
    return SealedPart(case_reference, report_id, sequence, index, count, file_hash, chunk, bot)


def join_sealed_parts(
    parts: Sequence[bytes], org_public: Ed25519PublicKey, *, today: date | None = None
) -> bytes:
    """The sealed report file the parts were cut from, verified as a whole, given every part
    once or more, in any order.

    Each part is checked as :func:`read_sealed_part` says (its errors propagate). Then
    PartsDoNotJoin when they name different files, one index is given with two different
    contents, a part is missing, or the joined bytes are not the file the parts name; and what
    :func:`crypto.sealed_file.read_sealed_file` raises for the joined file. A part given twice
    byte for byte (the repeat I8 allows) counts once.
    """
    if not parts:
        raise PartsDoNotJoin("no parts were given")
    read = [read_sealed_part(data, org_public, today=today) for data in parts]
    first = read[0]
    by_index: dict[int, SealedPart] = {}
    for part in read:
        if (part.case_reference, part.report_id, part.sequence, part.count) != (
            first.case_reference,
            first.report_id,
            first.sequence,
            first.count,
        ) or not hmac.compare_digest(part.file_hash, first.file_hash):
            raise PartsDoNotJoin(
                "these parts come from different files: give only the parts of one file"
            )
        seen = by_index.setdefault(part.index, part)
        if seen.chunk != part.chunk:
            raise PartsDoNotJoin(f"{part.label()} is given twice with different contents")
    missing = [index + 1 for index in range(first.count) if index not in by_index]
    if missing:
        numbers = ", ".join(str(number) for number in missing)
        which = (
            f"part {numbers} of {first.count} is"
            if len(missing) == 1
            else (f"parts {numbers} of {first.count} are")
        )
        raise PartsDoNotJoin(f"{which} missing")
    data = b"".join(by_index[index].chunk for index in range(first.count))
    if not hmac.compare_digest(hashlib.sha256(data).digest(), first.file_hash):
        raise PartsDoNotJoin("the parts do not join into the file they name")
    whole = read_sealed_file(data, org_public, today=today)
    if (whole.case_reference, whole.report_id, whole.sequence) != (
        first.case_reference,
        first.report_id,
        first.sequence,
    ):
        raise PartsDoNotJoin("the parts do not join into the file they name")
    return data
