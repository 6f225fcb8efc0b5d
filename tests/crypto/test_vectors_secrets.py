"""Golden vectors for key files, receipts, fingerprints, enrolment codes and signing key rotation
statements, and libsodium's Argon2id known answers.

One runner for every case of ``tests/vectors/secrets_*.json`` (made by
``tests/vectors/generate_secrets.py``) and ``tests/vectors/kat_argon2id.json``; a case whose
``expect`` it does not know fails, so a vector can never be skipped silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crypto import _sodium
from crypto.certificates import InvalidSignature
from crypto.enrolment import EnrolmentCodeError, InvalidLabel, decode_enrolment_code
from crypto.errors import UnsupportedVersion
from crypto.fingerprint import caseworker_fingerprint, organisation_fingerprint
from crypto.key_rotation import (
    RotationReason,
    SigningKeyRotation,
    issue_signing_key_rotation,
    verify_signing_key_rotation,
)
from crypto.keyfile import (
    Argon2idSettings,
    KeyFileHeader,
    KeyKind,
    MalformedKeyFile,
    UnsafeKeyFileSettings,
    WrongKeyKind,
    WrongPassphrase,
    _open_key_file,
    _public_keys_of,
    _seal_key_file_from_parts,
)
from crypto.keys import CaseworkerPublicKeys, Ed25519PublicKey, Ed25519SigningKey, X25519PublicKey
from crypto.receipts import (
    MalformedReceipt,
    ReceiptTypo,
    _generate_receipt_from_parts,
    derive_master_secret,
    parse_receipt,
)

VECTORS = Path(__file__).parent.parent / "vectors"
Case = dict[str, Any]


def _unknown(case: Case) -> None:
    pytest.fail(f"unknown expect {case['expect']!r} in case {case['name']!r}")


def _argon2id(case: Case) -> None:
    if case["expect"] != "ok":
        _unknown(case)
    output = bytes.fromhex(case["output"])
    derived = _sodium.argon2id(
        bytes.fromhex(case["password"]),
        bytes.fromhex(case["salt"]),
        opslimit=case["opslimit"],
        memlimit=case["memlimit"],
        size=len(output),
    )
    assert derived == output


def _receipt(case: Case) -> None:
    expect = case["expect"]
    if expect == "ok":
        receipt = _generate_receipt_from_parts(case["payload"])
        assert receipt.digits == case["receipt"]
        master = derive_master_secret(receipt, salt=bytes.fromhex(case["salt"]))
        mailbox = master.mailbox(bytes.fromhex(case["pepper"]))
        assert master.raw.hex() == case["master_secret"]
        assert mailbox.lookup_tag.hex() == case["lookup_tag"]
        assert mailbox.key.public_key.raw.hex() == case["mailbox_public_key"]
    elif expect == "parses":
        assert parse_receipt(case["text"]).digits == case["receipt"]
    elif expect == "typo":
        with pytest.raises(ReceiptTypo):
            parse_receipt(case["text"])
    elif expect == "malformed":
        with pytest.raises(MalformedReceipt):
            parse_receipt(case["text"])
    else:
        _unknown(case)


def _keyfile(case: Case) -> None:
    expect = case["expect"]
    data = bytes.fromhex(case["file"])
    kind = KeyKind[case["kind"]]
    errors: dict[str, tuple[type[Exception], str]] = {
        "wrong_passphrase": (WrongPassphrase, "wrong passphrase"),
        "unsafe_settings": (UnsafeKeyFileSettings, "refusing to derive"),
        "bad_version": (
            MalformedKeyFile,
            "format version 1; this version of Sanad reads version 2",
        ),
        "wrong_kind": (WrongKeyKind, "not a caseworker key file"),
        "not_a_key_file": (MalformedKeyFile, "not a Sanad key file"),
    }
    if expect == "ok":
        private = bytes.fromhex(case["private_keys"])
        header = KeyFileHeader(
            kind,
            case["label"],
            Argon2idSettings(case["opslimit"], case["memlimit"]),
            bytes.fromhex(case["salt"]),
            bytes.fromhex(case["nonce"]),
            _public_keys_of(kind, private),
            Ed25519PublicKey(bytes.fromhex(case["organisation"])) if case["organisation"] else None,
        )
        assert _seal_key_file_from_parts(header, private, case["passphrase"]) == data
        assert _open_key_file(data, case["passphrase"], kind) == (header, private)
    elif expect in errors:
        error, message = errors[expect]
        with pytest.raises(error, match=message):
            _open_key_file(data, case["passphrase"], kind)
    else:
        _unknown(case)


def _fingerprint(case: Case) -> None:
    if case["expect"] != "ok":
        _unknown(case)
    first, second = (bytes.fromhex(k) for k in case["keys"])
    if case["role"] == "caseworker":
        rendered = caseworker_fingerprint(
            CaseworkerPublicKeys(X25519PublicKey(first), Ed25519PublicKey(second))
        )
    elif case["role"] == "organisation":
        rendered = organisation_fingerprint(Ed25519PublicKey(first), X25519PublicKey(second))
    else:
        pytest.fail(f"unknown role {case['role']!r}")
    assert rendered == case["fingerprint"]


def _enrolment(case: Case) -> None:
    expect = case["expect"]
    code = case["code"]
    if expect == "ok":
        label, public = decode_enrolment_code(code)
        assert label == case["label"]
        assert public.encryption.raw.hex() == case["encryption"]
        assert public.signing.raw.hex() == case["signing"]
    elif expect == "typo":
        with pytest.raises(EnrolmentCodeError, match=r"mistyped|incomplete|do not belong"):
            decode_enrolment_code(code)
    elif expect == "bad_version":
        with pytest.raises(EnrolmentCodeError, match="version 2 is not supported"):
            decode_enrolment_code(code)
    elif expect == "invalid_label":
        with pytest.raises(InvalidLabel):
            decode_enrolment_code(code)
    elif expect == "malformed":
        with pytest.raises(EnrolmentCodeError, match="starts with"):
            decode_enrolment_code(code)
    else:
        _unknown(case)


def _rotation(case: Case) -> None:
    expect = case["expect"]
    data = bytes.fromhex(case["statement"])
    if expect == "ok":
        old = Ed25519SigningKey(bytes.fromhex(case["old_seed"]))
        new = Ed25519SigningKey(bytes.fromhex(case["new_seed"]))
        reason, issued = RotationReason[case["reason"]], date.fromisoformat(case["issued"])
        assert verify_signing_key_rotation(data) == SigningKeyRotation(
            old.public_key, new.public_key, issued, reason
        )
        assert issue_signing_key_rotation(old, new, reason=reason, issued=issued) == data
    elif expect == "invalid_signature":
        with pytest.raises(InvalidSignature):
            verify_signing_key_rotation(data)
    elif expect == "bad_version":
        with pytest.raises(UnsupportedVersion, match="format version 1"):
            verify_signing_key_rotation(data)
    else:
        _unknown(case)


RUNNERS: dict[str, Callable[[Case], None]] = {
    "argon2id": _argon2id,
    "receipt": _receipt,
    "keyfile": _keyfile,
    "fingerprint": _fingerprint,
    "enrolment": _enrolment,
    "rotation": _rotation,
}


def _cases() -> list[Any]:
    params = []
    for path in sorted([*VECTORS.glob("secrets_*.json"), VECTORS / "kat_argon2id.json"]):
        document = json.loads(path.read_text(encoding="utf-8"))
        for case in document["cases"]:
            params.append(pytest.param(document["format"], case, id=f"{path.stem}: {case['name']}"))
    return params


def test_every_vector_file_is_known() -> None:
    formats = {
        json.loads(p.read_text(encoding="utf-8"))["format"]
        for p in [*VECTORS.glob("secrets_*.json"), VECTORS / "kat_argon2id.json"]
    }
    assert formats == set(RUNNERS)


@pytest.mark.parametrize(("fmt", "case"), _cases())
def test_vector(fmt: str, case: Case) -> None:
    runner = RUNNERS.get(fmt)
    if runner is None:
        pytest.fail(f"unknown vector format {fmt!r}")
    runner(case)
