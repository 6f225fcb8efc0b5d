"""Golden vectors of custody log records (tests/vectors/custody.json, made by
tests/vectors/generate_custody_vectors.py): each case's ``expect`` must happen, and an unknown
``expect`` fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crypto.custody import open_custody_entry, recovery_custody_keys
from crypto.errors import CryptoError, OpenFailure, UnsupportedVersion
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "custody.json").read_text(encoding="utf-8")
)["cases"]
FAILURES: dict[str, type[CryptoError]] = {
    "open_failure": OpenFailure,
    "bad_version": UnsupportedVersion,
}


def test_vectors_cover_every_expected_outcome() -> None:
    assert {c["expect"] for c in CASES} == {"ok", *FAILURES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_custody_vector(case: dict[str, Any]) -> None:
    keys = CaseworkerKeys(
        X25519SecretKey(bytes.fromhex(case["encryption_secret"])),
        Ed25519SigningKey(bytes.fromhex(case["signing_seed"])),
    )
    if "recovery_secret" in case:
        # A recovery key's log: the recorded keys are the ones derived from the recovery key.
        derived = recovery_custody_keys(X25519SecretKey(bytes.fromhex(case["recovery_secret"])))
        assert derived.encryption.raw == keys.encryption.raw
        assert derived.signing.seed == keys.signing.seed
    sealed, entry = bytes.fromhex(case["sealed"]), bytes.fromhex(case["entry"])
    if case["expect"] == "ok":
        assert open_custody_entry(sealed, keys) == entry
        # The signed record is deterministic: signing the entry again gives the recorded bytes.
        record = bytes.fromhex(case["record"])
        assert keys.signing.sign(record[:-64]) == record[-64:]
        assert record[9:-64] == entry
    elif case["expect"] in FAILURES:
        with pytest.raises(FAILURES[case["expect"]]):
            open_custody_entry(sealed, keys)
    else:
        pytest.fail(f"unknown expect {case['expect']!r} in vector {case['name']!r}")
