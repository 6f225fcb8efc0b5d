"""Replies to a reporter's mailbox, and the signed reply file (docs/crypto.md, "Mailbox messages
and replies").

A reply is the report envelope with kind ``REPLY`` and one wrap, sealed to the reporter's mailbox
public key, which only the holder of the receipt can re-derive::

    sealed reply = "srpl" || version || wrap || body_sealed

where the body is a :class:`~crypto.body.ReportBody` holding one answer, ``reply``. The bot
stores it unopened and cannot read it (I5).

A caseworker who replies from their own machine (``sanad caseworker reply``) uploads a reply file::

    "SANAD-REPLY\\n" || version || case reference (u8 length) || report id || sequence (u32)
    || sealed reply (u32 length) || Ed25519 signature by the caseworker's signing key

The bot checks the signature against the caseworker's verified certificate before storing the
sealed reply, so a forged upload cannot put words in a caseworker's mouth.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto import _sodium, envelope
from crypto._reader import Reader
from crypto.body import Answer, ReportBody
from crypto.certificates import Certificate, InvalidSignature
from crypto.errors import CryptoError, OpenFailure, UnsupportedVersion
from crypto.header import REPORT_ID_BYTES, EnvelopeKind, check_binding
from crypto.keys import Ed25519SigningKey, X25519PublicKey, X25519SecretKey
from crypto.sealed_file import check_case_reference
from crypto.wraps import WRAP_BYTES, Wrap

REPLY_MAGIC = b"srpl"
REPLY_FILE_MAGIC = b"SANAD-REPLY\n"
VERSION = 1
REPLY_FIELD = "reply"
_PREFIX = REPLY_MAGIC + bytes([VERSION])


class MalformedReplyFile(CryptoError):
    """This is not a Sanad reply file, or the file is damaged."""


@dataclass(frozen=True)
class ReplyFile:
    """A reply file whose signature has been verified; ``sealed_reply`` is still sealed."""

    case_reference: str
    report_id: bytes
    sequence: int
    sealed_reply: bytes


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
        raise UnsupportedVersion
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


def sign_reply_file(
    sealed_reply: bytes,
    *,
    case_reference: str,
    report_id: bytes,
    sequence: int,
    signing_key: Ed25519SigningKey,
) -> bytes:
    """The reply file a caseworker uploads: the sealed reply signed with their signing key."""
    check_case_reference(case_reference)
    check_binding(report_id, sequence)
    reference = case_reference.encode("ascii")
    signed = b"".join(
        [
            REPLY_FILE_MAGIC,
            bytes([VERSION, len(reference)]),
            reference,
            report_id,
            sequence.to_bytes(4, "big"),
            len(sealed_reply).to_bytes(4, "big"),
            sealed_reply,
        ]
    )
    return signed + signing_key.sign(signed)


def verify_reply_file(data: bytes, certificate: Certificate) -> ReplyFile:
    """The content of a reply file, if ``certificate``'s caseworker signed it.

    ``certificate`` must come from :func:`crypto.certificates.verify_certificate` (checked today,
    against the current revocation list). The caller then checks that the case reference and
    report id belong together and that the caseworker is assigned to the case. Raises
    MalformedReplyFile, UnsupportedVersion or InvalidSignature (missing or wrong signature).
    """
    if not data.startswith(REPLY_FILE_MAGIC):
        raise MalformedReplyFile("this is not a Sanad reply file")
    reader = Reader(data, MalformedReplyFile, "this reply file is damaged")
    reader.take(len(REPLY_FILE_MAGIC))
    if reader.number(1) != VERSION:
        raise UnsupportedVersion
    try:
        case_reference = reader.take(reader.number(1)).decode("ascii")
        check_case_reference(case_reference)
    except (UnicodeDecodeError, CryptoError) as exc:
        raise reader.fail() from exc
    report_id = reader.take(REPORT_ID_BYTES)
    sequence = reader.number(4)
    sealed_reply = reader.take(reader.number(4))
    signed = data[: reader.position]
    signature = reader.rest()
    if not signature:
        raise InvalidSignature("this reply file carries no signature")
    if len(signature) != _sodium.ED25519_SIGNATURE_BYTES:
        raise reader.fail()
    if not certificate.keys.signing.verify(signed, signature):
        raise InvalidSignature("this reply file was not signed by this caseworker")
    return ReplyFile(case_reference, report_id, sequence, sealed_reply)
