"""The layout every object signed by the organisation key shares (docs/crypto.md, "Signed
objects"), and its errors.

    magic (4) || version (1) || signer key id (16) || fields || Ed25519 signature (64)

The magic is the domain separation between the kinds of object one key signs (caseworker
certificates, bot certificates, revocation lists): no signed object can be read as another kind.
Signed objects are public data, so their errors are precise: an admin needs to know whether a
certificate expired or was signed by the wrong key.

Dates are whole UTC days (I3: nothing finer than a day is kept about people), encoded as u32 days
since 1970-01-01.
"""

from __future__ import annotations

import hmac
from datetime import UTC, date, datetime

from crypto import _sodium
from crypto._reader import Reader
from crypto.errors import CryptoError, unsupported_version
from crypto.keys import KEY_ID_BYTES, Ed25519PublicKey, Ed25519SigningKey

_EPOCH = date(1970, 1, 1)


class CertificateError(CryptoError):
    """This certificate or revocation list cannot be accepted."""


class MalformedCertificate(CertificateError):
    """This is not a well-formed Sanad certificate or revocation list."""


class UnsignedCertificate(CertificateError):
    """This certificate or revocation list carries no signature."""


class SignedByAnotherKey(CertificateError):
    """This was signed by a key other than the organisation's pinned signing key."""


class InvalidSignature(CertificateError):
    """The signature does not match: the data was altered after signing."""


class CertificateExpired(CertificateError):
    """This certificate has expired."""


class CertificateNotYetValid(CertificateError):
    """This certificate is not valid yet."""


class CertificateRevoked(CertificateError):
    """This caseworker or key has been revoked."""


def today_utc() -> date:
    """Today's date in UTC: the clock every date check uses unless given another day."""
    return datetime.now(UTC).date()


def signed_header(magic: bytes, version: int, signer: Ed25519PublicKey) -> bytes:
    """``magic || version || signer key id``: how every signed object begins."""
    return magic + bytes([version]) + signer.key_id


def sign(body: bytes, signing_key: Ed25519SigningKey) -> bytes:
    """``body`` followed by its Ed25519 signature."""
    return body + signing_key.sign(body)


def signed_reader(
    data: bytes, magic: bytes, version: int, what: str, signer: Ed25519PublicKey
) -> Reader:
    """A reader past ``data``'s magic, version and signer key id, which must be ``signer``'s.

    Raises MalformedCertificate (not this kind of object), UnsupportedVersion (naming both
    versions) and SignedByAnotherKey, in that order.
    """
    if not data.startswith(magic):
        raise MalformedCertificate(f"this is not a Sanad {what}")
    reader = Reader(data, MalformedCertificate, f"this {what} is damaged")
    reader.take(len(magic))
    found = reader.number(1)
    if found != version:
        raise unsupported_version(what, found, version)
    if not hmac.compare_digest(reader.take(KEY_ID_BYTES), signer.key_id):
        raise SignedByAnotherKey
    return reader


def check_signature(data: bytes, reader: Reader, signer: Ed25519PublicKey) -> None:
    """Check the signature that follows the fields ``reader`` has just read, to the end."""
    signed = data[: reader.position]
    signature = reader.rest()
    if not signature:
        raise UnsignedCertificate
    if len(signature) != _sodium.ED25519_SIGNATURE_BYTES:
        raise reader.fail()
    if not signer.verify(signed, signature):
        raise InvalidSignature


def check_validity(not_before: date, expires: date, today: date | None) -> None:
    """Refuse a certificate outside [not_before, expires) on ``today`` (default: the UTC date)."""
    day = today or today_utc()
    if day < not_before:
        raise CertificateNotYetValid
    if day >= expires:
        raise CertificateExpired


def text_bytes(text: str) -> bytes:
    """``u8 length || UTF-8 bytes``."""
    raw = text.encode("utf-8")
    return bytes([len(raw)]) + raw


def read_text(reader: Reader, encoding: str) -> str:
    try:
        return reader.take(reader.number(1)).decode(encoding)
    except UnicodeDecodeError as exc:
        raise reader.fail() from exc


def date_bytes(day: date) -> bytes:
    return (day - _EPOCH).days.to_bytes(4, "big")


def read_date(reader: Reader) -> date:
    try:
        return date.fromordinal(_EPOCH.toordinal() + reader.number(4))
    except (ValueError, OverflowError) as exc:
        raise reader.fail() from exc


def check_period(not_before: date, expires: date) -> None:
    """A certificate's period must start on or after 1970-01-01 and end after it starts."""
    if not _EPOCH <= not_before < expires:
        raise MalformedCertificate("a certificate must expire after it becomes valid")
