"""Generate tests/vectors/parts.json, the golden vectors of the parts of a sealed report file
(docs/crypto.md, "Parts of a sealed report file").

Run from the repository root: ``python tests/vectors/generate_parts_vectors.py``. Everything is
fixed (keys, the sealed file's wrap and body bytes; Ed25519 is deterministic), so the output is
the same on every run. Parts are encoded here from the layout in docs/crypto.md, independently of
``crypto.sealed_parts``; the runner checks that ``split_sealed_file`` gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.header import EnvelopeKind
from crypto.keys import Ed25519SigningKey, X25519SecretKey
from crypto.sealed_file import write_sealed_file
from crypto.wraps import Wrap

OUT = Path(__file__).with_name("parts.json")
ORG = Ed25519SigningKey(bytes(range(0x10, 0x30)))
OTHER_ORG = Ed25519SigningKey(bytes(range(0x30, 0x50)))
BOT = Ed25519SigningKey(bytes(range(0x50, 0x70)))
OTHER_BOT = Ed25519SigningKey(bytes(range(0x70, 0x90)))
TODAY = date(2026, 6, 1)
RECIPIENT = X25519SecretKey(bytes(range(0x40, 0x60))).public_key
CASE = "K7Q-4M2P"
REPORT_ID = bytes.fromhex("5a4e4144207265706f72742069642031")
OTHER_REPORT_ID = bytes.fromhex("5a4e4144207265706f72742069642032")
PART_SIZE = 256


def _certificate(
    bot: Ed25519SigningKey = BOT, org: Ed25519SigningKey = ORG, expires: date = date(2026, 8, 1)
) -> bytes:
    return issue_bot_certificate(BotCertificate(bot.public_key, 3, date(2026, 5, 1), expires), org)


def _file(report_id: bytes = REPORT_ID) -> bytes:
    """A sealed report file with fixed wrap and body bytes: parts are checked, never opened."""
    return write_sealed_file(
        kind=EnvelopeKind.REPORT,
        case_reference=CASE,
        report_id=report_id,
        sequence=0,
        reply_to=None,
        wrap=Wrap(RECIPIENT.key_id, bytes(range(80))),
        body_sealed=bytes(i % 251 for i in range(400)),
        bot_key=BOT,
        bot_certificate=_certificate(),
    )


def _part(
    chunk: bytes,
    index: int,
    count: int,
    file_hash: bytes,
    *,
    report_id: bytes = REPORT_ID,
    version: int = 2,
    signer: Ed25519SigningKey = BOT,
    certificate: bytes | None = None,
) -> bytes:
    """One part, byte for byte as docs/crypto.md lays it out."""
    reference = CASE.encode("ascii")
    certificate = _certificate() if certificate is None else certificate
    signed = (
        b"SANAD-PART\n"
        + bytes([version, len(reference)])
        + reference
        + report_id
        + (0).to_bytes(4, "big")
        + index.to_bytes(2, "big")
        + count.to_bytes(2, "big")
        + file_hash
        + len(chunk).to_bytes(4, "big")
        + chunk
        + len(certificate).to_bytes(2, "big")
        + certificate
    )
    return signed + signer.sign(signed)


def _parts(data: bytes, *, report_id: bytes = REPORT_ID, **options: Any) -> list[bytes]:
    chunks = [data[i : i + PART_SIZE] for i in range(0, len(data), PART_SIZE)]
    digest = hashlib.sha256(data).digest()
    return [
        _part(chunk, index, len(chunks), digest, report_id=report_id, **options)
        for index, chunk in enumerate(chunks)
    ]


def _case(name: str, expect: str, parts: list[bytes], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "expect": expect,
        "org_public": ORG.public_key.raw.hex(),
        "today": str(TODAY),
        "parts": [part.hex() for part in parts],
        **extra,
    }


def _flip(data: bytes, position: int) -> bytes:
    edited = bytearray(data)
    edited[position] ^= 0x01
    return bytes(edited)


def main() -> None:
    whole = _file()
    parts = _parts(whole)
    assert len(parts) == 3
    digest = hashlib.sha256(whole).digest()
    other = _parts(_file(OTHER_REPORT_ID), report_id=OTHER_REPORT_ID)
    forged_chunk = _part(bytes(len(whole[256:512])), 1, 3, digest)
    cases = [
        _case(
            "three parts in order",
            "ok",
            parts,
            file=whole.hex(),
            part_size=PART_SIZE,
            bot_seed=BOT.seed.hex(),
            bot_certificate=_certificate().hex(),
        ),
        _case(
            "three parts reordered, one given twice",
            "ok",
            [parts[2], parts[0], parts[1], parts[0]],
            file=whole.hex(),
        ),
        _case("a file in a single part", "ok", [_part(whole, 0, 1, digest)], file=whole.hex()),
        _case("a part missing", "parts_do_not_join", [parts[0], parts[2]]),
        _case("a part of another report", "parts_do_not_join", [parts[0], other[1], parts[2]]),
        _case("one index with two contents", "parts_do_not_join", [*parts, forged_chunk]),
        _case(
            "signed chunks that do not hash to the stated file",
            "parts_do_not_join",
            [parts[0], forged_chunk, parts[2]],
        ),
        _case("an unsigned part", "untrusted", [parts[0], parts[1][:-64] + bytes(64), parts[2]]),
        _case(
            "a part signed by another bot key",
            "untrusted",
            [parts[0], _parts(whole, signer=OTHER_BOT)[1], parts[2]],
        ),
        _case(
            "a part from another organisation's bot",
            "untrusted",
            [
                parts[0],
                _parts(whole, signer=OTHER_BOT, certificate=_certificate(OTHER_BOT, OTHER_ORG))[1],
                parts[2],
            ],
        ),
        _case(
            "a part with an expired bot certificate",
            "untrusted",
            [parts[0], _parts(whole, certificate=_certificate(expires=TODAY))[1], parts[2]],
        ),
        _case("a flipped byte in a chunk", "untrusted", [parts[0], _flip(parts[1], 120), parts[2]]),
        _case("a part of format version 1", "bad_version", [_parts(whole, version=1)[0]]),
        _case("a whole file given as a part", "malformed", [whole]),
        _case("an index beyond the count", "malformed", [_part(whole, 1, 1, digest)]),
        _case("an empty chunk", "malformed", [_part(b"", 0, 1, digest)]),
        _case("a part cut short", "malformed", [parts[0][:-1]]),
    ]
    document = {
        "source": "generated by tests/vectors/generate_parts_vectors.py; format in docs/crypto.md",
        "cases": cases,
    }
    OUT.write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
