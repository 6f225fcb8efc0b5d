"""Every public ``crypto`` function that reads outside input raises only ``crypto.CryptoError``.

Arbitrary bytes or text, and valid objects with a bit flipped, a byte replaced, the end cut off
or bytes added, go into each parser exported from ``crypto/__init__.py``. Whatever happens, the
caller sees one of Sanad's own errors (or a result), never a ValueError, IndexError, TypeError
or ``nacl`` exception escaping from inside ``crypto/`` (STYLE.md, "Errors").
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    Answer,
    Attachment,
    AttachmentKind,
    BotCertificate,
    Certificate,
    CryptoError,
    EnvelopeKind,
    HousekeepingKey,
    ReportBody,
    decode_enrolment_code,
    encode_enrolment_code,
    generate_receipt,
    issue_bot_certificate,
    issue_certificate,
    issue_enrolment_claim,
    issue_revocation_list,
    issue_signing_key_rotation,
    open_erase_target,
    open_reply,
    open_sealed_file,
    parse_confirmation_code,
    parse_receipt,
    read_key_file_header,
    read_reply_file,
    read_reply_statement,
    read_sealed_file,
    save_caseworker_key,
    seal_erase_target,
    seal_reply,
    seal_report,
    verify_bot_certificate,
    verify_certificate,
    verify_enrolment_claim,
    verify_revocation_list,
    verify_signing_key_rotation,
    write_reply_file,
    write_sealed_file,
)
from crypto.keyfile import MINIMUM
from crypto.keys import (
    ORG_SIGNING_PREFIX,
    CaseworkerKeys,
    Ed25519PublicKey,
    Ed25519SigningKey,
    X25519PublicKey,
    X25519SecretKey,
)
from crypto.mailbox_messages import ReplySigner, ReplyStatement

ORG = Ed25519SigningKey(bytes(range(32)))
CASEWORKER = CaseworkerKeys(
    X25519SecretKey(bytes(range(2, 34))), Ed25519SigningKey(bytes(range(3, 35)))
)
MAILBOX = X25519SecretKey(bytes(range(65, 97)))
HOUSEKEEPING = HousekeepingKey.generate()
REPORT_ID = bytes(range(16))
DAY = date(2026, 6, 1)
CERTIFICATE = Certificate(
    caseworker_id="cw-17",
    label="Amal",
    delivery_chat_id=6_100_200_300,
    keys=CASEWORKER.public,
    serial=4,
    not_before=date(2026, 1, 1),
    expires=date(2027, 1, 1),
)
CERTIFICATE_BYTES = issue_certificate(CERTIFICATE, ORG)
BOT = Ed25519SigningKey(bytes(range(5, 37)))
BOT_CERTIFICATE = issue_bot_certificate(
    BotCertificate(BOT.public_key, 1, date(2026, 1, 1), date(2027, 1, 1)), ORG
)
CLAIM = issue_enrolment_claim(BOT, 6_100_200_300, CASEWORKER.public)
BODY = ReportBody(
    [Answer("what", "canary")],
    [Attachment("proof.pdf", "application/pdf", AttachmentKind.DOCUMENT, b"%PDF-1.7")],
)
_SEALED = seal_report(
    BODY.to_bytes(),
    report_id=REPORT_ID,
    sequence=1,
    kind=EnvelopeKind.ADDENDUM,
    recipients=[CASEWORKER.public.encryption],
    reply_to=MAILBOX.public_key,
)
SEALED_FILE = write_sealed_file(
    kind=EnvelopeKind.ADDENDUM,
    case_reference="K7Q-4M2P",
    report_id=REPORT_ID,
    sequence=1,
    reply_to=MAILBOX.public_key,
    wrap=_SEALED.wraps[0],
    body_sealed=_SEALED.body_sealed,
    bot_key=BOT,
    bot_certificate=BOT_CERTIFICATE,
)
SEALED_REPLY = seal_reply(
    "a reply", report_id=REPORT_ID, sequence=1, mailbox_public=MAILBOX.public_key
)
REPLY_STATEMENT = ReplyStatement(
    signer=ReplySigner.CASEWORKER,
    case_reference="K7Q-4M2P",
    report_id=REPORT_ID,
    mailbox_key_id=MAILBOX.public_key.key_id,
    sequence=1,
    sealed_reply=SEALED_REPLY,
)
REPLY_FILE = write_reply_file(REPLY_STATEMENT, CASEWORKER.signing)
REVOCATION_LIST = issue_revocation_list(
    ORG, serial=3, caseworker_ids=["cw-2"], key_ids=[bytes(16)], issued=DAY
)
ROTATION = issue_signing_key_rotation(ORG, Ed25519SigningKey(bytes(range(40, 72))), issued=DAY)
ERASE_TARGET = seal_erase_target(HOUSEKEEPING, -1001234567890, [5, 6, 7])


def _key_file_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "key.sanadkey"
        save_caseworker_key(
            path, CASEWORKER, "Amal", "passphrase", organisation=ORG.public_key, kdf=MINIMUM
        )
        return path.read_bytes()


KEY_FILE = _key_file_bytes()


def _read_key_file_header(data: bytes) -> object:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "key.sanadkey"
        path.write_bytes(data)
        return read_key_file_header(path)


BYTE_PARSERS: dict[str, tuple[Callable[[bytes], object], bytes]] = {
    "read_sealed_file": (
        lambda d: read_sealed_file(d, ORG.public_key, today=DAY),
        SEALED_FILE,
    ),
    "open_sealed_file": (
        lambda d: open_sealed_file(d, CASEWORKER.encryption, ORG.public_key, today=DAY),
        SEALED_FILE,
    ),
    "verify_bot_certificate": (
        lambda d: verify_bot_certificate(d, ORG.public_key, today=DAY),
        BOT_CERTIFICATE,
    ),
    "verify_enrolment_claim": (lambda d: verify_enrolment_claim(d, BOT.public_key), CLAIM),
    "verify_certificate": (
        lambda d: verify_certificate(d, ORG.public_key, today=DAY),
        CERTIFICATE_BYTES,
    ),
    "verify_revocation_list": (
        lambda d: verify_revocation_list(d, ORG.public_key, min_serial=0),
        REVOCATION_LIST,
    ),
    "read_reply_file": (
        lambda d: read_reply_file(d).verify(CASEWORKER.public.signing),
        REPLY_FILE,
    ),
    "read_reply_statement": (read_reply_statement, REPLY_STATEMENT.to_bytes()),
    "verify_signing_key_rotation": (verify_signing_key_rotation, ROTATION),
    "ReportBody.from_bytes": (ReportBody.from_bytes, BODY.to_bytes()),
    "open_erase_target": (lambda d: open_erase_target(HOUSEKEEPING, d), ERASE_TARGET),
    "open_reply": (
        lambda d: open_reply(d, report_id=REPORT_ID, sequence=1, mailbox_secret=MAILBOX),
        SEALED_REPLY,
    ),
    "read_key_file_header": (_read_key_file_header, KEY_FILE),
}
TEXT_PARSERS: dict[str, tuple[Callable[[str], object], str]] = {
    "decode_enrolment_code": (
        decode_enrolment_code,
        encode_enrolment_code("Amal", CASEWORKER.public),
    ),
    "parse_receipt": (parse_receipt, generate_receipt().to_display()),
    "parse_confirmation_code": (parse_confirmation_code, "1234 5678"),
    "X25519PublicKey.from_text": (X25519PublicKey.from_text, MAILBOX.public_key.to_text()),
    "Ed25519PublicKey.from_text": (
        lambda t: Ed25519PublicKey.from_text(t, prefix=ORG_SIGNING_PREFIX),
        ORG.public_key.to_text(ORG_SIGNING_PREFIX),
    ),
}


def _only_crypto_errors(parse: Callable[[Any], object], value: object) -> None:
    """Run ``parse``; a CryptoError is an answer, anything else fails the test."""
    with contextlib.suppress(CryptoError):
        parse(value)


def test_every_valid_input_parses() -> None:
    for parse, valid in [*BYTE_PARSERS.values(), *TEXT_PARSERS.values()]:
        parse(valid)  # type: ignore[operator]


@st.composite
def _mutated_bytes(draw: st.DrawFn, valid: bytes) -> bytes:
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(["flip", "replace", "truncate", "extend", "cut"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if operation == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "replace" and data:
            data[position] = draw(st.integers(0, 255))
        elif operation == "truncate":
            del data[position:]
        elif operation == "extend":
            data += draw(st.binary(min_size=1, max_size=64))
        elif operation == "cut":
            del data[position : position + draw(st.integers(1, 64))]
    return bytes(data)


@st.composite
def _mutated_text(draw: st.DrawFn, valid: str) -> str:
    text = valid
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(["replace", "truncate", "extend", "insert"]))
        position = draw(st.integers(0, max(len(text) - 1, 0)))
        if operation == "replace" and text:
            text = text[:position] + draw(st.characters()) + text[position + 1 :]
        elif operation == "truncate":
            text = text[:position]
        elif operation == "extend":
            text += draw(st.text(min_size=1, max_size=16))
        elif operation == "insert":
            text = text[:position] + draw(st.text(min_size=1, max_size=4)) + text[position:]
    return text


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(BYTE_PARSERS)), data=st.data())
def test_byte_parsers_raise_only_crypto_errors_on_mutated_input(
    name: str, data: st.DataObject
) -> None:
    parse, valid = BYTE_PARSERS[name]
    _only_crypto_errors(parse, data.draw(_mutated_bytes(valid)))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(BYTE_PARSERS)), data=st.binary(max_size=512))
def test_byte_parsers_raise_only_crypto_errors_on_arbitrary_bytes(name: str, data: bytes) -> None:
    parse, valid = BYTE_PARSERS[name]
    _only_crypto_errors(parse, data)
    # The same bytes behind the right magic and version reach the parser's later checks.
    _only_crypto_errors(parse, valid[:9] + data)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(TEXT_PARSERS)), data=st.data())
def test_text_parsers_raise_only_crypto_errors_on_mutated_input(
    name: str, data: st.DataObject
) -> None:
    parse, valid = TEXT_PARSERS[name]
    _only_crypto_errors(parse, data.draw(_mutated_text(valid)))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(TEXT_PARSERS)), text=st.text(max_size=200))
def test_text_parsers_raise_only_crypto_errors_on_arbitrary_text(name: str, text: str) -> None:
    parse, valid = TEXT_PARSERS[name]
    _only_crypto_errors(parse, text)
    prefix = valid[: valid.index(":") + 1] if ":" in valid else ""
    _only_crypto_errors(parse, prefix + text)
