"""Golden vectors of the report envelope and sealed report file (tests/vectors/envelope.json).

Each case names what must happen (``expect``); an unknown ``expect`` fails, so a vector cannot be
silently skipped. ``ok`` envelope cases are also re-sealed from their fixed data key and nonce and
must give the recorded bytes, and ``ok`` sealed files re-signed with their fixed bot key: a change
of format shows up here.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crypto.body import ReportBody
from crypto.envelope import _seal_report_from_parts, open_report
from crypto.errors import CryptoError, NotForThisKey, OpenFailure, UnsupportedVersion
from crypto.header import EnvelopeKind
from crypto.keys import Ed25519PublicKey, Ed25519SigningKey, X25519PublicKey, X25519SecretKey
from crypto.sealed_file import UntrustedFile, open_sealed_file
from crypto.wraps import Wrap

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "envelope.json").read_text()
)["cases"]
FAILURES: dict[str, type[CryptoError]] = {
    "open_failure": OpenFailure,
    "bad_version": UnsupportedVersion,
    "not_for_this_key": NotForThisKey,
    "untrusted": UntrustedFile,
}


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


def _key(text: str | None) -> X25519PublicKey | None:
    return X25519PublicKey(_h(text)) if text else None


def _run_envelope(case: dict[str, Any]) -> bytes:
    sealed_as = {k: case[k] for k in ("report_id", "sequence", "kind", "reply_to")}
    opened_as = {**sealed_as, "recipient_secret": case["recipient_secret"], **case["open_as"]}
    if case["expect"] == "ok":
        resealed = _seal_report_from_parts(
            _h(case["body"]),
            report_id=_h(case["report_id"]),
            sequence=case["sequence"],
            kind=EnvelopeKind[case["kind"].upper()],
            recipients=[X25519SecretKey(_h(case["recipient_secret"])).public_key],
            reply_to=_key(case["reply_to"]),
            dek=_h(case["dek"]),
            nonce=_h(case["nonce"]),
        )
        assert resealed.body_sealed.hex() == case["body_sealed"]
    return open_report(
        _h(case["body_sealed"]),
        Wrap(_h(case["key_id"]), _h(case["wrap"])),
        report_id=_h(opened_as["report_id"]),
        sequence=opened_as["sequence"],
        kind=EnvelopeKind[opened_as["kind"].upper()],
        secret_key=X25519SecretKey(_h(opened_as["recipient_secret"])),
        reply_to=_key(opened_as["reply_to"]),
    )


def _run_sealed_file(case: dict[str, Any]) -> bytes:
    data = _h(case["file"])
    opened = open_sealed_file(
        data,
        X25519SecretKey(_h(case["recipient_secret"])),
        Ed25519PublicKey(_h(case["org_public"])),
        today=date.fromisoformat(case["today"]),
    )
    assert opened.case_reference == case["case_reference"]
    assert Ed25519SigningKey(_h(case["bot_seed"])).sign(data[:-64]) == data[-64:]
    return opened.body.to_bytes()


RUNNERS = {"envelope": _run_envelope, "sealed_file": _run_sealed_file}


def test_vectors_cover_every_expected_outcome() -> None:
    assert {c["expect"] for c in CASES} == {"ok", *FAILURES}
    assert {c["type"] for c in CASES} == set(RUNNERS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_envelope_vector(case: dict[str, Any]) -> None:
    run = RUNNERS[case["type"]]
    if case["expect"] == "ok":
        expected = _h(case["body"])
        if case["type"] == "sealed_file":
            # The recorded bodies are version 1: read as such, written again as version 2.
            expected = ReportBody.from_bytes(expected).to_bytes()
        assert run(case) == expected
        if case["type"] == "envelope" and case["body"]:
            ReportBody.from_bytes(_h(case["body"]))
    elif case["expect"] in FAILURES:
        with pytest.raises(FAILURES[case["expect"]]):
            run(case)
    else:
        pytest.fail(f"unknown expect {case['expect']!r} in vector {case['name']!r}")
