"""Generate tests/vectors/statements.json, the golden vectors of caseworker statements: the
signatures of evidence manifests and advocacy exports (docs/crypto.md, "Caseworker statements").

Run from the repository root: ``python tests/vectors/generate_statement_vectors.py``. The key and
documents are fixed and Ed25519 is deterministic, so every statement is reproducible and the
runner signs each ``ok`` case again to the recorded bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crypto.caseworker_statements import StatementKind, sign_statement
from crypto.keys import Ed25519SigningKey

OUT = Path(__file__).with_name("statements.json")
SIGNER = Ed25519SigningKey(bytes(range(0xB0, 0xD0)))
MANIFEST = b'{"case_reference": "K7Q-4M2P", "files": []}'
EXPORT = b'{"counts": {"cases": ["K7Q-4M2P"]}, "format": "sanad-advocacy-counts"}'


def _case(
    name: str,
    expect: str,
    kind: StatementKind,
    document: bytes,
    *,
    checked_as: StatementKind | None = None,
    checked_document: bytes | None = None,
    flip: int | None = None,
    version: int | None = None,
    cut: int | None = None,
    claimed_signer: Ed25519SigningKey | None = None,
) -> dict[str, Any]:
    statement = bytearray(sign_statement(kind, SIGNER, document))
    if claimed_signer is not None:  # another caseworker's key, over the same signature
        statement[5:37] = claimed_signer.public_key.raw
    if flip is not None:
        statement[flip] ^= 0x01
    if version is not None:
        statement[4] = version
    if cut is not None:
        statement = statement[:cut]
    return {
        "name": name,
        "expect": expect,
        "kind": (checked_as or kind).name,
        "signed_kind": kind.name,
        "signer_seed": bytes(range(0xB0, 0xD0)).hex(),
        "document": (checked_document or document).hex(),
        "signed_document": document.hex(),
        "statement": bytes(statement).hex(),
    }


def cases() -> list[dict[str, Any]]:
    manifest, export = StatementKind.EVIDENCE_MANIFEST, StatementKind.ADVOCACY_EXPORT
    return [
        _case("evidence manifest", "ok", manifest, MANIFEST),
        _case("advocacy export", "ok", export, EXPORT),
        _case("export signature on a manifest", "malformed", export, EXPORT, checked_as=manifest),
        _case("future version", "bad_version", manifest, MANIFEST, version=3),
        _case("truncated", "malformed", manifest, MANIFEST, cut=100),
        _case("document altered", "mismatch", manifest, MANIFEST,
              checked_document=MANIFEST.replace(b"K7Q", b"K7R")),
        _case("signature altered", "mismatch", manifest, MANIFEST, flip=-1),
        _case("document hash altered", "mismatch", manifest, MANIFEST, flip=40),
        _case("signer key bit flipped: no key", "malformed", manifest, MANIFEST, flip=6),
        _case("another caseworker named as signer", "mismatch", manifest, MANIFEST,
              claimed_signer=Ed25519SigningKey(bytes(range(0x10, 0x30)))),
    ]  # fmt: skip


if __name__ == "__main__":
    OUT.write_text(json.dumps({"cases": cases()}, indent=1, ensure_ascii=False) + "\n")
