"""Golden vectors of format v2's signed objects (tests/vectors/signed.json).

Each case names what must happen (``expect``); an unknown ``expect`` fails, so a vector cannot be
silently skipped. ``ok`` cases are re-issued from their fixed keys and must give the recorded
bytes (Ed25519 is deterministic): a change of format shows up here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crypto.audit_signature import audit_entry_signed, sign_audit_entry
from crypto.bot_certificate import BotCertificate, issue_bot_certificate, verify_bot_certificate
from crypto.certificates import (
    Certificate,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    InvalidSignature,
    SignedByAnotherKey,
    issue_certificate,
    verify_certificate,
    verify_revocation_list,
)
from crypto.enrolment_claim import _issue_enrolment_claim_from_parts, verify_enrolment_claim
from crypto.errors import CryptoError, UnsupportedVersion
from crypto.keys import CaseworkerPublicKeys, Ed25519PublicKey, Ed25519SigningKey, X25519PublicKey
from crypto.mailbox_messages import (
    MalformedReplyFile,
    read_reply_file,
    read_reply_statement,
    write_reply_file,
)

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "signed.json").read_text(encoding="utf-8")
)["cases"]
FAILURES: dict[str, type[CryptoError]] = {
    "expired": CertificateExpired,
    "not_yet_valid": CertificateNotYetValid,
    "signed_by_another_key": SignedByAnotherKey,
    "invalid_signature": InvalidSignature,
    "bad_version": UnsupportedVersion,
    "revoked": CertificateRevoked,
    "malformed": MalformedReplyFile,
}
Case = dict[str, Any]


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _keys(case: Case) -> CaseworkerPublicKeys:
    return CaseworkerPublicKeys(
        X25519PublicKey(_h(case["encryption_key"])), Ed25519PublicKey(_h(case["signing_key"]))
    )


def _bot_certificate(case: Case) -> None:
    org = Ed25519PublicKey(_h(case["org_public"]))
    revocations = (
        verify_revocation_list(_h(case["revocation_list"]), org, min_serial=0)
        if "revocation_list" in case
        else None
    )
    verified = verify_bot_certificate(
        _h(case["data"]), org, revocations=revocations, today=_day(case["today"])
    )
    expected = BotCertificate(
        Ed25519PublicKey(_h(case["bot_public"])),
        case["serial"],
        _day(case["not_before"]),
        _day(case["expires"]),
    )
    assert verified == expected
    assert (
        issue_bot_certificate(expected, Ed25519SigningKey(_h(case["org_seed"]))).hex()
        == (case["data"])
    )


def _certificate(case: Case) -> None:
    verified = verify_certificate(
        _h(case["data"]), Ed25519PublicKey(_h(case["org_public"])), today=_day(case["today"])
    )
    expected = Certificate(
        case["caseworker_id"],
        case["label"],
        case["delivery_chat_id"],
        _keys(case),
        case["serial"],
        _day(case["not_before"]),
        _day(case["expires"]),
    )
    assert verified == expected
    assert (
        issue_certificate(expected, Ed25519SigningKey(_h(case["org_seed"]))).hex() == (case["data"])
    )


def _enrolment_claim(case: Case) -> None:
    claim = verify_enrolment_claim(_h(case["data"]), Ed25519PublicKey(_h(case["bot_public"])))
    assert (claim.chat_id, claim.keys, claim.issued) == (
        case["chat_id"],
        _keys(case),
        _day(case["issued"]),
    )
    assert claim.code == case["code"]
    reissued = _issue_enrolment_claim_from_parts(
        Ed25519SigningKey(_h(case["bot_seed"])),
        case["chat_id"],
        _keys(case),
        nonce=_h(case["nonce"]),
        issued=_day(case["issued"]),
    )
    assert reissued.hex() == case["data"]


def _reply_statement(case: Case) -> None:
    statement = read_reply_statement(_h(case["statement"]))
    statement.verify(Ed25519PublicKey(_h(case["signer_public"])), _h(case["signature"]))
    assert statement.sign(Ed25519SigningKey(_h(case["signer_seed"]))).hex() == case["signature"]


def _reply_file(case: Case) -> None:
    parsed = read_reply_file(_h(case["file"]))
    statement = parsed.verify(Ed25519PublicKey(_h(case["signer_public"])))
    signing_key = Ed25519SigningKey(_h(case["signer_seed"]))
    assert write_reply_file(statement, signing_key).hex() == case["file"]


def _audit_signature(case: Case) -> None:
    bot_public = Ed25519PublicKey(_h(case["bot_public"]))
    entry_hash, signature = _h(case["entry_hash"]), _h(case["signature"])
    if not audit_entry_signed(bot_public, case["position"], entry_hash, signature):
        raise InvalidSignature
    bot = Ed25519SigningKey(_h(case["bot_seed"]))
    assert sign_audit_entry(bot, case["signed_position"], entry_hash) == signature


RUNNERS: dict[str, Callable[[Case], None]] = {
    "bot_certificate": _bot_certificate,
    "certificate": _certificate,
    "enrolment_claim": _enrolment_claim,
    "reply_statement": _reply_statement,
    "reply_file": _reply_file,
    "audit_signature": _audit_signature,
}


def test_vectors_cover_every_expected_outcome_and_type() -> None:
    assert {c["expect"] for c in CASES} == {"ok", *FAILURES}
    assert {c["type"] for c in CASES} == set(RUNNERS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_signed_vector(case: Case) -> None:
    run = RUNNERS[case["type"]]
    if case["expect"] == "ok":
        run(case)
    elif case["expect"] in FAILURES:
        with pytest.raises(FAILURES[case["expect"]]):
            run(case)
    else:
        pytest.fail(f"unknown expect {case['expect']!r} in vector {case['name']!r}")
