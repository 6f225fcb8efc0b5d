"""Mailbox messages and replies (docs/crypto.md, "Mailbox messages and replies")."""

from __future__ import annotations

from datetime import date

import pytest

from crypto.certificates import Certificate, InvalidSignature
from crypto.errors import OpenFailure, UnsupportedVersion
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey
from crypto.mailbox_messages import (
    REPLY_FILE_MAGIC,
    MalformedReplyFile,
    open_reply,
    seal_reply,
    sign_reply_file,
    verify_reply_file,
)

MAILBOX = X25519SecretKey(bytes(range(5, 37)))
CASEWORKER = CaseworkerKeys(
    X25519SecretKey(bytes(range(6, 38))), Ed25519SigningKey(bytes(range(7, 39)))
)
IMPOSTOR = Ed25519SigningKey(bytes(range(8, 40)))
CERTIFICATE = Certificate("cw-3", "Karim", CASEWORKER.public, 1, date(2026, 1, 1), date(2027, 1, 1))
REPORT_ID = bytes(range(16))
TEXT = "We received your report. Stay safe — نحن معك"


def _open(sealed: bytes, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "report_id": REPORT_ID,
        "sequence": 1,
        "mailbox_secret": MAILBOX,
    }
    arguments.update(overrides)
    return open_reply(sealed, **arguments)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sealed() -> bytes:
    return seal_reply(TEXT, report_id=REPORT_ID, sequence=1, mailbox_public=MAILBOX.public_key)


def test_open_reply_returns_the_text(sealed: bytes) -> None:
    assert _open(sealed) == TEXT
    assert TEXT.encode() not in sealed


def test_open_reply_rejects_other_mailbox_report_or_sequence(sealed: bytes) -> None:
    with pytest.raises(OpenFailure):
        _open(sealed, mailbox_secret=X25519SecretKey(bytes(32)))
    with pytest.raises(OpenFailure):
        _open(sealed, report_id=bytes(16))
    with pytest.raises(OpenFailure):
        _open(sealed, sequence=2)


def test_open_reply_rejects_flipped_bytes_and_truncation(sealed: bytes) -> None:
    for position in (0, 5, 40, 120, len(sealed) // 2, len(sealed) - 1):
        damaged = bytearray(sealed)
        damaged[position] ^= 0x04
        with pytest.raises(OpenFailure):
            _open(bytes(damaged))
    for keep in (0, 4, 100, len(sealed) - 1):
        with pytest.raises(OpenFailure):
            _open(sealed[:keep])


def test_open_reply_refuses_unknown_version_by_name(sealed: bytes) -> None:
    with pytest.raises(UnsupportedVersion):
        _open(sealed[:4] + b"\x02" + sealed[5:])


def test_verify_reply_file_returns_the_signed_reply(sealed: bytes) -> None:
    data = sign_reply_file(
        sealed,
        case_reference="K7Q-4M2P",
        report_id=REPORT_ID,
        sequence=1,
        signing_key=CASEWORKER.signing,
    )
    reply = verify_reply_file(data, CERTIFICATE)
    assert (reply.case_reference, reply.report_id, reply.sequence) == ("K7Q-4M2P", REPORT_ID, 1)
    assert _open(reply.sealed_reply) == TEXT


def test_verify_reply_file_rejects_another_signer(sealed: bytes) -> None:
    data = sign_reply_file(
        sealed, case_reference="K7Q-4M2P", report_id=REPORT_ID, sequence=1, signing_key=IMPOSTOR
    )
    with pytest.raises(InvalidSignature):
        verify_reply_file(data, CERTIFICATE)


def test_verify_reply_file_rejects_retargeted_case_and_missing_signature(sealed: bytes) -> None:
    data = sign_reply_file(
        sealed,
        case_reference="K7Q-4M2P",
        report_id=REPORT_ID,
        sequence=1,
        signing_key=CASEWORKER.signing,
    )
    with pytest.raises(InvalidSignature):
        verify_reply_file(data.replace(b"K7Q-4M2P", b"K7Q-4M2Q"), CERTIFICATE)
    with pytest.raises(InvalidSignature, match="no signature"):
        verify_reply_file(data[:-64], CERTIFICATE)
    with pytest.raises(MalformedReplyFile):
        verify_reply_file(data[: len(REPLY_FILE_MAGIC) + 5], CERTIFICATE)
    with pytest.raises(MalformedReplyFile, match="not a Sanad reply file"):
        verify_reply_file(b"hello", CERTIFICATE)
    with pytest.raises(UnsupportedVersion):
        verify_reply_file(
            REPLY_FILE_MAGIC + b"\x09" + data[len(REPLY_FILE_MAGIC) + 1 :], CERTIFICATE
        )
