"""The sealed report file a caseworker receives (docs/crypto.md, "Sealed report file").

Self-describing bytes, so ``sanad caseworker open FILE --key KEYFILE`` needs nothing else::

    "SANAD-REPORT\\n" || version (2) || kind || case reference (u8 length, ASCII)
    || report id (16) || sequence (u32) || reply-to flag (1) [|| mailbox public key (32)]
    || recipient key id (16) || wrap length (u16) || wrap || body length (u32) || body_sealed
    || bot certificate length (u16) || bot certificate
    || Ed25519 signature by the bot key over everything before it (64)

The clear fields are not secret and are authenticated by the body's AEAD: kind, report id and
sequence number are the header and the reply-to key is in the associated data
(see :mod:`crypto.envelope`). The case reference is a label for people: the bot checks that a
reply's case reference and report id belong together.

A sealed box is anonymous: anyone who knows a caseworker's public key can make a file that opens
with it, and choose the reply-to key that the caseworker's answer will be sealed to. So the bot
signs every file, carries its certificate in it, and :func:`read_sealed_file` checks signature →
bot certificate → the organisation key the caseworker pinned before anything is decrypted or
trusted (I9). Those failures are :class:`UntrustedFile`, with a precise message: the signature
and the certificate are public data.

Errors follow age's rule: a file that is not Sanad's or is damaged in its clear layout is
:class:`MalformedSealedFile`, an unknown version is :class:`~crypto.errors.UnsupportedVersion`,
"this file is not for your key" is :class:`~crypto.errors.NotForThisKey`, and anything the
cryptography refuses is the one :class:`~crypto.errors.OpenFailure`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from crypto import _sodium, envelope
from crypto._reader import Reader
from crypto._signed import CertificateError, CertificateExpired, CertificateNotYetValid
from crypto.body import ReportBody
from crypto.bot_certificate import BotCertificate, verify_bot_certificate
from crypto.errors import CryptoError, unsupported_version
from crypto.header import REPORT_ID_BYTES, EnvelopeKind, check_binding
from crypto.keys import (
    KEY_ID_BYTES,
    Ed25519PublicKey,
    Ed25519SigningKey,
    X25519PublicKey,
    X25519SecretKey,
)
from crypto.wraps import Wrap

MAGIC = b"SANAD-REPORT\n"
VERSION = 2
_CASE_REFERENCE_RE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}\Z")
_BROKEN = "this sealed report file is damaged"
_FILE_KINDS = (EnvelopeKind.REPORT, EnvelopeKind.ADDENDUM)


class MalformedSealedFile(CryptoError):
    """This is not a Sanad sealed report file, or the file is damaged."""


class UntrustedFile(CryptoError):
    """This file was not sent by your organisation's bot: it may be forged. Do not act on it."""


@dataclass(frozen=True)
class SealedFile:
    """The parsed, still sealed content of a sealed report file."""

    kind: EnvelopeKind
    case_reference: str
    report_id: bytes
    sequence: int
    reply_to: X25519PublicKey | None
    wrap: Wrap
    body_sealed: bytes
    bot: BotCertificate


@dataclass(frozen=True)
class OpenedFile:
    """A decrypted report or addendum with the header fields it was sealed under."""

    kind: EnvelopeKind
    case_reference: str
    report_id: bytes
    sequence: int
    reply_to: X25519PublicKey | None
    body: ReportBody


def check_case_reference(case_reference: str) -> None:
    """Refuse a case reference other than 1–32 of ``A-Z``, ``0-9``, ``-`` (like ``K7Q-4M2P``)."""
    if not _CASE_REFERENCE_RE.match(case_reference):
        raise MalformedSealedFile("a case reference is 1 to 32 of A-Z, 0-9 and '-'")


def write_sealed_file(
    *,
    kind: EnvelopeKind,
    case_reference: str,
    report_id: bytes,
    sequence: int,
    reply_to: X25519PublicKey | None,
    wrap: Wrap,
    body_sealed: bytes,
    bot_key: Ed25519SigningKey,
    bot_certificate: bytes,
) -> bytes:
    """The file for the caseworker whose ``wrap`` this is, from stored, still sealed parts,
    signed with ``bot_key`` and carrying ``bot_certificate`` (the organisation's certificate of
    that key, as ``sanad admin certify-bot`` wrote it).

    ``reply_to`` must be the mailbox key the body was sealed with (or None), or the caseworker
    will not be able to open it.
    """
    if kind not in _FILE_KINDS:
        raise ValueError("a sealed report file holds a report or an addendum")
    check_case_reference(case_reference)
    check_binding(report_id, sequence)
    reference = case_reference.encode("ascii")
    signed = b"".join(
        [
            MAGIC,
            bytes([VERSION, kind.value, len(reference)]),
            reference,
            report_id,
            sequence.to_bytes(4, "big"),
            b"\x01" + reply_to.raw if reply_to else b"\x00",
            wrap.key_id,
            len(wrap.wrap).to_bytes(2, "big"),
            wrap.wrap,
            len(body_sealed).to_bytes(4, "big"),
            body_sealed,
            len(bot_certificate).to_bytes(2, "big"),
            bot_certificate,
        ]
    )
    return signed + bot_key.sign(signed)


def read_sealed_file(
    data: bytes, org_public: Ed25519PublicKey, *, today: date | None = None
) -> SealedFile:
    """Parse a sealed report file and check who made it, without opening it.

    ``org_public`` is the organisation signing key the caseworker pinned. Raises
    MalformedSealedFile for a file that is not one or is cut short, UnsupportedVersion (checked
    before anything else is read) for another format version, and UntrustedFile when the bot's
    signature, the bot certificate or its link to ``org_public`` fails on ``today``.
    """
    if not data.startswith(MAGIC):
        raise MalformedSealedFile("this is not a Sanad sealed report file")
    reader = Reader(data, MalformedSealedFile, _BROKEN, position=len(MAGIC))
    found = reader.number(1)
    if found != VERSION:
        raise unsupported_version("sealed report file", found, VERSION)
    code = reader.number(1)
    kind = next((k for k in _FILE_KINDS if k.value == code), None)
    if kind is None:
        raise reader.fail()
    case_reference = read_case_reference(reader)
    report_id = reader.take(REPORT_ID_BYTES)
    sequence = reader.number(4)
    flag = reader.number(1)
    if flag not in (0, 1):
        raise reader.fail()
    reply_to = reader.public_key(X25519PublicKey) if flag else None
    key_id = reader.take(KEY_ID_BYTES)
    wrap = Wrap(key_id, reader.take(reader.number(2)))
    body_sealed = reader.take(reader.number(4))
    bot = check_bot_signature(data, reader, org_public, today, what="file")
    return SealedFile(kind, case_reference, report_id, sequence, reply_to, wrap, body_sealed, bot)


def read_case_reference(reader: Reader) -> str:
    """A ``u8 length || ASCII`` case reference, checked (the reader's error otherwise)."""
    try:
        case_reference = reader.take(reader.number(1)).decode("ascii")
    except UnicodeDecodeError as exc:
        raise reader.fail() from exc
    check_case_reference(case_reference)
    return case_reference


def check_bot_signature(
    data: bytes, reader: Reader, org_public: Ed25519PublicKey, today: date | None, *, what: str
) -> BotCertificate:
    """Read the ``u16 length || bot certificate || signature`` that end a bot-signed object (a
    file or a part), then check signature → bot certificate → ``org_public`` (I9).

    The layout is checked first (the reader's error), then :func:`trusted_bot`; a signature
    that does not cover ``data`` up to itself is UntrustedFile naming ``what``.
    """
    certificate = reader.take(reader.number(2))
    signed_length = reader.position
    signature = reader.take(_sodium.ED25519_SIGNATURE_BYTES)
    reader.end()
    bot = trusted_bot(certificate, org_public, today)
    if not bot.key.verify(data[:signed_length], signature):
        raise UntrustedFile(f"this {what}'s signature does not match: it was altered or forged")
    return bot


def trusted_bot(
    certificate: bytes, org_public: Ed25519PublicKey, today: date | None
) -> BotCertificate:
    """The bot certificate a file or part carries, if the pinned organisation key vouches for
    it today; UntrustedFile otherwise (also for :mod:`crypto.sealed_parts`)."""
    try:
        return verify_bot_certificate(certificate, org_public, today=today)
    except CertificateExpired as exc:
        raise UntrustedFile(
            "the bot certificate in this file has expired: ask an admin to renew it "
            "(sanad admin certify-bot), then have the file sent again"
        ) from exc
    except CertificateNotYetValid as exc:
        raise UntrustedFile("the bot certificate in this file is not valid yet") from exc
    except (CertificateError, CryptoError) as exc:
        raise UntrustedFile(
            "this file was not signed by your organisation's bot: it may be forged"
        ) from exc


def open_sealed_file(
    data: bytes,
    secret_key: X25519SecretKey,
    org_public: Ed25519PublicKey,
    *,
    today: date | None = None,
) -> OpenedFile:
    """Parse, check who made it, check the recipient, decrypt and decode a sealed report file.

    Raises what :func:`read_sealed_file` raises, NotForThisKey when the file was made for another
    key, OpenFailure when it does not open, and MalformedBody for a body that opens but is not in
    Sanad's body format.
    """
    sealed = read_sealed_file(data, org_public, today=today)
    plaintext = envelope.open_report(
        sealed.body_sealed,
        sealed.wrap,
        report_id=sealed.report_id,
        sequence=sealed.sequence,
        kind=sealed.kind,
        secret_key=secret_key,
        reply_to=sealed.reply_to,
    )
    return OpenedFile(
        sealed.kind,
        sealed.case_reference,
        sealed.report_id,
        sealed.sequence,
        sealed.reply_to,
        ReportBody.from_bytes(plaintext),
    )
