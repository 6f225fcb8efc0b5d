"""Generate tests/vectors/custody.json, the golden vectors of custody log records (docs/crypto.md,
"Custody log").

Run from the repository root: ``python tests/vectors/generate_custody_vectors.py``. The keys and
entries are fixed and Ed25519 is deterministic, so each record's signed part is reproducible and
recorded (``record``); the sealed box around it draws its own ephemeral key, so ``sealed`` is
recorded as made and the runner opens it. Re-running rewrites ``sealed``: commit the result only
when the format changes on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crypto import _sodium
from crypto.custody import MAGIC, VERSION, recovery_custody_keys
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey

OUT = Path(__file__).with_name("custody.json")
KEYS = CaseworkerKeys(
    X25519SecretKey(bytes(range(0x90, 0xB0))), Ed25519SigningKey(bytes(range(0xB0, 0xD0)))
)
OTHER_SIGNER = Ed25519SigningKey(bytes(range(0x10, 0x30)))
ENTRY = (
    b'{"at": "2026-12-06T18:30:00+00:00", "case": "K7Q-4M2P", "event": "opened", "previous": ""}'
)
# A recovery key's log: sealed to it, signed with the key derived from it.
RECOVERY_SECRET = bytes(range(0x50, 0x70))
RECOVERY_KEYS = recovery_custody_keys(X25519SecretKey(RECOVERY_SECRET))
RECOVERY_ENTRY = (
    b'{"at": "2026-12-07T01:00:00+00:00", "case": "K7Q-4M2P", '
    b'"event": "opened with the recovery key", "previous": ""}'
)


def _record(
    entry: bytes, *, signer: Ed25519SigningKey = KEYS.signing, version: int = VERSION
) -> bytes:
    signed = MAGIC + bytes([version]) + len(entry).to_bytes(4, "big") + entry
    return signed + signer.sign(signed)


def _case(
    name: str, expect: str, record: bytes, *, flip: int | None = None, keys: CaseworkerKeys = KEYS
) -> dict[str, Any]:
    sealed = bytearray(_sodium.seal(keys.public.encryption.raw, record))
    if flip is not None:
        sealed[flip] ^= 0x01
    return {
        "name": name,
        "expect": expect,
        "encryption_secret": keys.encryption.raw.hex(),
        "signing_seed": keys.signing.seed.hex(),
        "entry": record[9:-64].hex(),
        "record": record.hex(),
        "sealed": bytes(sealed).hex(),
    }


def cases() -> list[dict[str, Any]]:
    return [
        _case("opened", "ok", _record(ENTRY)),
        {
            **_case(
                "opened with the recovery key",
                "ok",
                _record(RECOVERY_ENTRY, signer=RECOVERY_KEYS.signing),
                keys=RECOVERY_KEYS,
            ),
            "recovery_secret": RECOVERY_SECRET.hex(),
        },
        _case("sealed byte flipped", "open_failure", _record(ENTRY), flip=60),
        _case("signed by someone else", "open_failure", _record(ENTRY, signer=OTHER_SIGNER)),
        _case("future version", "bad_version", _record(ENTRY, version=3)),
        _case("not a custody record", "open_failure", b"srps" + _record(ENTRY)[4:]),
    ]


if __name__ == "__main__":
    OUT.write_text(json.dumps({"cases": cases()}, indent=1) + "\n")
