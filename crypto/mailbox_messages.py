"""Replies to a reporter's mailbox, who vouches for them, and the reply file (docs/crypto.md,
"Mailbox messages and replies").

A reply is the report envelope with kind ``REPLY`` and one wrap, sealed to the reporter's mailbox
public key, which only the holder of the receipt can re-derive::

    sealed reply = "srpl" || version || wrap || body_sealed

where the body is a :class:`~crypto.body.ReportBody` holding one answer, ``reply``. The bot
stores it unopened and cannot read it (I5).

A sealed reply is anonymous, so every reply is also signed (I9): by the caseworker when it comes
as a reply file from ``sanad caseworker reply``, by the bot when a caseworker types ``/reply``.
The signature covers a statement the server can rebuild from what it stores, without
decrypting::

    reply statement = "srps" || version (2) || signer (1: caseworker, 2: bot)
                      || case reference (u8 length) || report id (16) || mailbox key id (16)
                      || sequence (u32) || sealed reply (u32 length)

so ``/status`` shows a reply only when the statement verifies against a signer whose
certificate is valid now: a row written into the database by an intruder, or a reply moved to
another mailbox, case or number, shows nothing. The reply file a caseworker uploads is::

    "SANAD-REPLY\\n" || version (2) || statement (u32 length) || Ed25519 signature (64)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from crypto import _sodium, envelope
from crypto._reader import Reader
from crypto._signed import InvalidSignature
from crypto.body import Answer, ReportBody
from crypto.errors import CryptoError, OpenFailure, unsupported_version
from crypto.header import REPORT_ID_BYTES, EnvelopeKind, check_binding
from crypto.keys import (
    KEY_ID_BYTES,
    Ed25519PublicKey,
    Ed25519SigningKey,
    X25519PublicKey,
    X25519SecretKey,
)
from crypto.sealed_file import check_case_reference
from crypto.wraps import WRAP_BYTES, Wrap

REPLY_MAGIC = b"srpl"
STATEMENT_MAGIC = b"srps"
REPLY_FILE_MAGIC = b"SANAD-REPLY\n"
VERSION = 1  # of the sealed reply, which format v2 left as it was
STATEMENT_VERSION = 2
REPLY_FILE_VERSION = 2
REPLY_FIELD = "reply"
_PREFIX = REPLY_MAGIC + bytes([VERSION])
_MAX_SEALED_REPLY = 2**24  # far above the bot's text limit: a bound, not a policy


class MalformedReplyFile(CryptoError):
    """This is not a Sanad reply file, or the file is damaged."""


class ReplySigner(enum.Enum):
    """Who signed a reply; the value is its byte in the reply statement."""

    CASEWORKER = 1
    BOT = 2


@dataclass(frozen=True)
class ReplyStatement:
    """What a reply's signature covers: everything the server stores about it, still sealed."""

    signer: ReplySigner
    case_reference: str
    report_id: bytes
    mailbox_key_id: bytes
    sequence: int
    sealed_reply: bytes

    def __post_init__(self) -> None:
        check_case_reference(self.case_reference)
        check_binding(self.report_id, self.sequence)
        if len(self.mailbox_key_id) != KEY_ID_BYTES:
            raise ValueError("a mailbox key id is 16 bytes")
        if len(self.sealed_reply) > _MAX_SEALED_REPLY:
            raise ValueError("a sealed reply is at most 16 MiB")

    def to_bytes(self) -> bytes:
        """The canonical bytes that are signed (module docstring)."""
        reference = self.case_reference.encode("ascii")
        return b"".join(
            [
                STATEMENT_MAGIC,
                bytes([STATEMENT_VERSION, self.signer.value, len(reference)]),
                reference,
                self.report_id,
                self.mailbox_key_id,
                self.sequence.to_bytes(4, "big"),
                len(self.sealed_reply).to_bytes(4, "big"),
                self.sealed_reply,
            ]
        )

    def sign(self, signing_key: Ed25519SigningKey) -> bytes:
        """The 64-byte signature of this statement by ``signing_key``."""
        return signing_key.sign(self.to_bytes())

    def verify(self, signer_key: Ed25519PublicKey, signature: bytes) -> None:
        """Raise InvalidSignature unless ``signature`` is ``signer_key``'s over this statement."""
        if not signer_key.verify(self.to_bytes(), signature):
            raise InvalidSignature("this reply was not signed by this key")


@dataclass(frozen=True)
class ReplyFile:
    """A parsed reply file: its statement and signature, not verified yet."""

    statement: ReplyStatement
    signature: bytes

    def verify(self, signer_key: Ed25519PublicKey) -> ReplyStatement:
        """The statement, if ``signer_key`` (a verified caseworker's) signed this file."""
        self.statement.verify(signer_key, self.signature)
        return self.statement


def seal_reply(
    text: str, *, report_id: bytes, sequence: int, mailbox_public: X25519PublicKey
) -> bytes:
    """Seal a caseworker's reply so that only the reporter's mailbox key opens it.

    ``sequence`` numbers replies within the case; the caller keeps (report id, sequence) unique.
    """
    body = ReportBody([Answer(REPLY_FIELD, text)]).to_bytes()
    sealed = envelope.seal_report(
        body,
        report_id=report_id,
        sequence=sequence,
        kind=EnvelopeKind.REPLY,
        recipients=[mailbox_public],
    )
    return _PREFIX + sealed.wraps[0].wrap + sealed.body_sealed


def open_reply(
    sealed_reply: bytes, *, report_id: bytes, sequence: int, mailbox_secret: X25519SecretKey
) -> str:
    """The text of a reply sealed by :func:`seal_reply` to this mailbox, for this report.

    Raises UnsupportedVersion for another format version and OpenFailure for every other cause
    (wrong mailbox, tampering, a reply moved to another report or sequence number).
    """
    if not sealed_reply.startswith(REPLY_MAGIC) or len(sealed_reply) < len(_PREFIX) + WRAP_BYTES:
        raise OpenFailure
    if sealed_reply[len(REPLY_MAGIC)] != VERSION:
        raise unsupported_version("reply", sealed_reply[len(REPLY_MAGIC)], VERSION)
    wrap = Wrap(
        mailbox_secret.public_key.key_id, sealed_reply[len(_PREFIX) : len(_PREFIX) + WRAP_BYTES]
    )
    plaintext = envelope.open_report(
        sealed_reply[len(_PREFIX) + WRAP_BYTES :],
        wrap,
        report_id=report_id,
        sequence=sequence,
        kind=EnvelopeKind.REPLY,
        secret_key=mailbox_secret,
    )
    try:
        body = ReportBody.from_bytes(plaintext)
    except CryptoError as exc:  # authenticated, yet not a reply: treat as any failure to open
        raise OpenFailure from exc
    text = body.answer(REPLY_FIELD)
    if text is None or len(body.answers) != 1 or body.attachments:
        raise OpenFailure
    return text


def write_reply_file(statement: ReplyStatement, signing_key: Ed25519SigningKey) -> bytes:
    """The reply file a caseworker uploads: their statement and its signature."""
    if statement.signer is not ReplySigner.CASEWORKER:
        raise ValueError("a reply file carries a caseworker's reply")
    encoded = statement.to_bytes()
    return b"".join(
        [
            REPLY_FILE_MAGIC,
            bytes([REPLY_FILE_VERSION]),
            len(encoded).to_bytes(4, "big"),
            encoded,
            statement.sign(signing_key),
        ]
    )


def read_reply_file(data: bytes) -> ReplyFile:
    """Parse a reply file; the caller verifies it with the caseworker's certified key.

    Raises MalformedReplyFile (not a reply file, damaged, not a caseworker's statement) or
    UnsupportedVersion naming the version.
    """
    if not data.startswith(REPLY_FILE_MAGIC):
        raise MalformedReplyFile("this is not a Sanad reply file")
    reader = Reader(data, MalformedReplyFile, "this reply file is damaged")
    reader.take(len(REPLY_FILE_MAGIC))
    found = reader.number(1)
    if found != REPLY_FILE_VERSION:
        raise unsupported_version("reply file", found, REPLY_FILE_VERSION)
    statement = read_reply_statement(reader.take(reader.number(4)))
    signature = reader.take(_sodium.ED25519_SIGNATURE_BYTES)
    reader.end()
    if statement.signer is not ReplySigner.CASEWORKER:
        raise MalformedReplyFile("a reply file carries a caseworker's reply")
    return ReplyFile(statement, signature)


def read_reply_statement(data: bytes) -> ReplyStatement:
    """Parse the canonical bytes of a reply statement (MalformedReplyFile otherwise)."""
    reader = Reader(data, MalformedReplyFile, "this reply is damaged")
    if reader.take(len(STATEMENT_MAGIC)) != STATEMENT_MAGIC:
        raise reader.fail()
    found = reader.number(1)
    if found != STATEMENT_VERSION:
        raise unsupported_version("reply", found, STATEMENT_VERSION)
    signer_byte = reader.number(1)  # read once, not once per member
    signer = next((s for s in ReplySigner if s.value == signer_byte), None)
    if signer is None:
        raise reader.fail()
    try:
        case_reference = reader.take(reader.number(1)).decode("ascii")
        statement = ReplyStatement(
            signer=signer,
            case_reference=case_reference,
            report_id=reader.take(REPORT_ID_BYTES),
            mailbox_key_id=reader.take(KEY_ID_BYTES),
            sequence=reader.number(4),
            sealed_reply=reader.take(reader.number(4)),
        )
    except (UnicodeDecodeError, ValueError, CryptoError) as exc:
        raise reader.fail() from exc
    reader.end()
    return statement
