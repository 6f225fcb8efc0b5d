"""Golden vectors of caseworker statements (tests/vectors/statements.json, made by
tests/vectors/generate_statement_vectors.py): each case's ``expect`` must happen, and an
unknown ``expect`` fails, so a vector cannot be skipped by a typo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crypto.caseworker_statements import (
    MalformedStatement,
    StatementKind,
    StatementMismatch,
    sign_statement,
    verify_statement,
)
from crypto.errors import CryptoError, UnsupportedVersion
from crypto.keys import Ed25519SigningKey

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "statements.json").read_text(encoding="utf-8")
)["cases"]
FAILURES: dict[str, type[CryptoError]] = {
    "malformed": MalformedStatement,
    "bad_version": UnsupportedVersion,
    "mismatch": StatementMismatch,
}


def test_vectors_cover_every_expected_outcome_and_kind() -> None:
    assert {c["expect"] for c in CASES} == {"ok", *FAILURES}
    assert {c["kind"] for c in CASES if c["expect"] == "ok"} == {k.name for k in StatementKind}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_statement_vector(case: dict[str, Any]) -> None:
    kind = StatementKind[case["kind"]]
    statement, document = bytes.fromhex(case["statement"]), bytes.fromhex(case["document"])
    signer = Ed25519SigningKey(bytes.fromhex(case["signer_seed"]))
    if case["expect"] == "ok":
        assert verify_statement(kind, statement, document) == signer.public_key
        assert sign_statement(kind, signer, document) == statement
    elif case["expect"] in FAILURES:
        with pytest.raises(FAILURES[case["expect"]]):
            verify_statement(kind, statement, document)
    else:
        pytest.fail(f"unknown expect {case['expect']!r} in vector {case['name']!r}")
