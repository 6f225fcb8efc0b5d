"""Mailbox messages and replies (docs/crypto.md, "Mailbox messages and replies")."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crypto.certificates import InvalidSignature
from crypto.errors import OpenFailure, UnsupportedVersion
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, X25519SecretKey
from crypto.mailbox_messages import (
    REPLY_FILE_MAGIC,
    STATEMENT_MAGIC,
    MalformedReplyFile,
    ReplySigner,
    ReplyStatement,
    open_reply,
    read_reply_file,
    read_reply_statement,
    seal_reply,
    write_reply_file,
)

MAILBOX = X25519SecretKey(bytes(range(5, 37)))
CASEWORKER = CaseworkerKeys(
    X25519SecretKey(bytes(range(6, 38))), Ed25519SigningKey(bytes(range(7, 39)))
)
IMPOSTOR = Ed25519SigningKey(bytes(range(8, 40)))
BOT = Ed25519SigningKey(bytes(range(9, 41)))
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


def _statement(sealed: bytes, signer: ReplySigner = ReplySigner.CASEWORKER) -> ReplyStatement:
    return ReplyStatement(
        signer=signer,
        case_reference="K7Q-4M2P",
        report_id=REPORT_ID,
        mailbox_key_id=MAILBOX.public_key.key_id,
        sequence=1,
        sealed_reply=sealed,
    )


def test_reply_file_round_trips_the_signed_statement(sealed: bytes) -> None:
    statement = _statement(sealed)
    data = write_reply_file(statement, CASEWORKER.signing)
    assert read_reply_file(data).verify(CASEWORKER.public.signing) == statement
    assert _open(statement.sealed_reply) == TEXT


def test_reply_file_signed_by_another_key_is_refused(sealed: bytes) -> None:
    data = write_reply_file(_statement(sealed), IMPOSTOR)
    with pytest.raises(InvalidSignature):
        read_reply_file(data).verify(CASEWORKER.public.signing)


@pytest.mark.parametrize(
    "change",
    [
        {"case_reference": "K7Q-4M2Q"},
        {"report_id": bytes(16)},
        {"mailbox_key_id": bytes(16)},
        {"sequence": 2},
        {"signer": ReplySigner.BOT},
    ],
)
def test_a_reply_moved_to_another_case_mailbox_or_number_fails_its_signature(
    sealed: bytes, change: dict[str, object]
) -> None:
    # I9: the server checks where a reply belongs without decrypting it; a database writer who
    # moves a signed reply to another mailbox, case or number makes it show nowhere.
    statement = _statement(sealed)
    signature = statement.sign(BOT)
    statement.verify(BOT.public_key, signature)
    with pytest.raises(InvalidSignature):
        replace(statement, **change).verify(BOT.public_key, signature)  # type: ignore[arg-type]


def test_an_altered_sealed_reply_fails_its_signature(sealed: bytes) -> None:
    statement = _statement(sealed, ReplySigner.BOT)
    signature = statement.sign(BOT)
    altered = bytearray(sealed)
    altered[-1] ^= 1
    with pytest.raises(InvalidSignature):
        replace(statement, sealed_reply=bytes(altered)).verify(BOT.public_key, signature)


def test_reply_statement_bytes_round_trip(sealed: bytes) -> None:
    statement = _statement(sealed, ReplySigner.BOT)
    assert read_reply_statement(statement.to_bytes()) == statement
    with pytest.raises(UnsupportedVersion, match="format version 1"):
        read_reply_statement(STATEMENT_MAGIC + b"\x01" + statement.to_bytes()[5:])
    with pytest.raises(MalformedReplyFile):
        read_reply_statement(statement.to_bytes() + b"\x00")


def test_a_reply_file_carries_only_a_caseworker_statement(sealed: bytes) -> None:
    with pytest.raises(ValueError, match="caseworker"):
        write_reply_file(_statement(sealed, ReplySigner.BOT), BOT)
    # Hand-made: a bot statement in a reply file is refused whoever signed it (the bot's
    # replies never travel as files, so such a file is forged).
    encoded = _statement(sealed, ReplySigner.BOT).to_bytes()
    forged = REPLY_FILE_MAGIC + b"\x02" + len(encoded).to_bytes(4, "big") + encoded
    with pytest.raises(MalformedReplyFile, match="caseworker"):
        read_reply_file(forged + BOT.sign(encoded))


def test_damaged_foreign_and_v1_reply_files_are_refused(sealed: bytes) -> None:
    data = write_reply_file(_statement(sealed), CASEWORKER.signing)
    with pytest.raises(MalformedReplyFile):
        read_reply_file(data[:-64])
    with pytest.raises(MalformedReplyFile):
        read_reply_file(data[: len(REPLY_FILE_MAGIC) + 5])
    with pytest.raises(MalformedReplyFile, match="not a Sanad reply file"):
        read_reply_file(b"hello")
    with pytest.raises(UnsupportedVersion, match=r"format version 1; .* reads version 2 only"):
        read_reply_file(REPLY_FILE_MAGIC + b"\x01" + data[len(REPLY_FILE_MAGIC) + 1 :])
