"""Caseworker certificates and the revocation list (docs/crypto.md, "Certificates and revocation
list").

An admin approves a caseworker by signing a certificate with the organisation signing key; the bot
seals to a caseworker's key only after :func:`verify_certificate` accepts it against the pinned
organisation key (I4). Revocation is a signed list whose serial only goes up, so an old list
cannot be replayed to un-revoke someone.

Certificates and lists are public data, so their errors are precise: an admin needs to know
whether a certificate expired or was signed by the wrong key.

Dates are whole UTC days (I3: nothing finer than a day is kept about people). A certificate is
valid from ``not_before`` (inclusive) until ``expires`` (exclusive).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from crypto import _sodium
from crypto._reader import Reader
from crypto.errors import CryptoError, UnsupportedVersion
from crypto.keys import (
    KEY_ID_BYTES,
    CaseworkerPublicKeys,
    Ed25519PublicKey,
    Ed25519SigningKey,
    X25519PublicKey,
)

CERTIFICATE_MAGIC = b"scrt"
REVOCATION_MAGIC = b"srev"
VERSION = 1
_EPOCH = date(1970, 1, 1)
_CASEWORKER_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_MAX_LABEL_BYTES = 255
_MAX_REVOKED = 100_000
_WHAT = {CERTIFICATE_MAGIC: "certificate", REVOCATION_MAGIC: "revocation list"}


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


class RevocationListRollback(CertificateError):
    """This revocation list is older than one already accepted."""


def today_utc() -> date:
    """Today's date in UTC: the clock every date check uses unless given another day."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Certificate:
    """A caseworker's verified certificate: who they are and which keys to trust for them."""

    caseworker_id: str
    label: str
    keys: CaseworkerPublicKeys
    serial: int
    not_before: date
    expires: date

    def __post_init__(self) -> None:
        if not _CASEWORKER_ID_RE.match(self.caseworker_id):
            raise MalformedCertificate("a caseworker id is 1 to 64 of A-Z, a-z, 0-9, '_.-'")
        if not 0 < len(self.label.encode("utf-8")) <= _MAX_LABEL_BYTES:
            raise MalformedCertificate("a caseworker label is 1 to 255 bytes")
        if not 0 <= self.serial < 2**64:
            raise MalformedCertificate("a certificate serial is an unsigned 64-bit integer")
        if not _EPOCH <= self.not_before < self.expires:
            raise MalformedCertificate("a certificate must expire after it becomes valid")


@dataclass(frozen=True)
class RevocationList:
    """A verified revocation list: caseworker ids and key ids no longer to be trusted."""

    serial: int
    issued: date
    caseworker_ids: frozenset[str]
    key_ids: frozenset[bytes]

    def revokes(self, certificate: Certificate) -> bool:
        """True when the caseworker or either of their keys is on this list."""
        return (
            certificate.caseworker_id in self.caseworker_ids
            or certificate.keys.encryption.key_id in self.key_ids
            or certificate.keys.signing.key_id in self.key_ids
        )


def issue_certificate(certificate: Certificate, signing_key: Ed25519SigningKey) -> bytes:
    """The certificate's canonical bytes signed with the organisation signing key."""
    return _sign(_certificate_body(certificate, signing_key.public_key), signing_key)


def verify_certificate(
    data: bytes,
    org_public: Ed25519PublicKey,
    *,
    revocations: RevocationList | None = None,
    today: date | None = None,
) -> Certificate:
    """The certificate in ``data``, if the organisation signed it and it is in force ``today``.

    ``revocations`` must come from :func:`verify_revocation_list`; ``today`` defaults to the UTC
    date. Raises MalformedCertificate, UnsupportedVersion, UnsignedCertificate, SignedByAnotherKey,
    InvalidSignature, CertificateNotYetValid, CertificateExpired or CertificateRevoked.
    """
    reader = _signed_reader(data, CERTIFICATE_MAGIC, org_public)
    certificate = Certificate(
        caseworker_id=_read_text(reader, "ascii"),
        label=_read_text(reader, "utf-8"),
        keys=CaseworkerPublicKeys(
            reader.public_key(X25519PublicKey),
            reader.public_key(Ed25519PublicKey),
        ),
        serial=reader.number(8),
        not_before=_read_date(reader),
        expires=_read_date(reader),
    )
    _check_signature(data, reader, org_public)
    day = today or today_utc()
    if day < certificate.not_before:
        raise CertificateNotYetValid
    if day >= certificate.expires:
        raise CertificateExpired
    if revocations is not None and revocations.revokes(certificate):
        raise CertificateRevoked
    return certificate


def issue_revocation_list(
    signing_key: Ed25519SigningKey,
    *,
    serial: int,
    caseworker_ids: Iterable[str] = (),
    key_ids: Iterable[bytes] = (),
    issued: date | None = None,
) -> bytes:
    """A signed revocation list; ``serial`` must exceed that of every list issued before."""
    ids = sorted(set(caseworker_ids))
    keys = sorted(set(key_ids))
    if any(not _CASEWORKER_ID_RE.match(i) for i in ids) or any(
        len(k) != KEY_ID_BYTES for k in keys
    ):
        raise MalformedCertificate("a revoked caseworker id or key id is malformed")
    if not 0 <= serial < 2**64 or len(ids) + len(keys) > _MAX_REVOKED:
        raise MalformedCertificate("revocation list serial or size out of range")
    body = bytearray(_header(REVOCATION_MAGIC, signing_key.public_key))
    body += serial.to_bytes(8, "big") + _date_bytes(issued or today_utc())
    body += len(ids).to_bytes(4, "big")
    for caseworker_id in ids:
        body += _text_bytes(caseworker_id)
    body += len(keys).to_bytes(4, "big") + b"".join(keys)
    return _sign(bytes(body), signing_key)


def verify_revocation_list(
    data: bytes, org_public: Ed25519PublicKey, *, min_serial: int
) -> RevocationList:
    """The revocation list in ``data``, if the organisation signed it and it is not older.

    ``min_serial`` is the serial of the last list accepted (0 when none): an equal serial is
    the same list again, a lower one is a rollback and raises RevocationListRollback.
    Otherwise raises the signature and format errors of :func:`verify_certificate`.
    """
    reader = _signed_reader(data, REVOCATION_MAGIC, org_public)
    serial = reader.number(8)
    issued = _read_date(reader)
    ids = [_read_text(reader, "ascii") for _ in range(_read_count(reader))]
    keys = [reader.take(KEY_ID_BYTES) for _ in range(_read_count(reader))]
    _check_signature(data, reader, org_public)
    if serial < min_serial:
        raise RevocationListRollback
    return RevocationList(serial, issued, frozenset(ids), frozenset(keys))


# Layout shared by both signed objects: magic || version || signer key id || fields || signature.
# The magic is the domain separation between the two kinds of thing the organisation key signs.


def _header(magic: bytes, signer: Ed25519PublicKey) -> bytes:
    return magic + bytes([VERSION]) + signer.key_id


def _certificate_body(certificate: Certificate, signer: Ed25519PublicKey) -> bytes:
    return b"".join(
        [
            _header(CERTIFICATE_MAGIC, signer),
            _text_bytes(certificate.caseworker_id),
            _text_bytes(certificate.label),
            certificate.keys.encryption.raw,
            certificate.keys.signing.raw,
            certificate.serial.to_bytes(8, "big"),
            _date_bytes(certificate.not_before),
            _date_bytes(certificate.expires),
        ]
    )


def _sign(body: bytes, signing_key: Ed25519SigningKey) -> bytes:
    return body + signing_key.sign(body)


def _signed_reader(data: bytes, magic: bytes, org_public: Ed25519PublicKey) -> Reader:
    """A reader past ``data``'s magic, version and signer, which must be ``org_public``."""
    if not data.startswith(magic):
        raise MalformedCertificate(f"this is not a Sanad {_WHAT[magic]}")
    reader = Reader(data, MalformedCertificate, f"this {_WHAT[magic]} is damaged")
    reader.take(len(magic))
    if reader.number(1) != VERSION:
        raise UnsupportedVersion
    if not hmac.compare_digest(reader.take(KEY_ID_BYTES), org_public.key_id):
        raise SignedByAnotherKey
    return reader


def _check_signature(data: bytes, reader: Reader, org_public: Ed25519PublicKey) -> None:
    """Check the signature that follows the fields ``reader`` has just read."""
    signed = data[: reader.position]
    signature = reader.rest()
    if not signature:
        raise UnsignedCertificate
    if len(signature) != _sodium.ED25519_SIGNATURE_BYTES:
        raise reader.fail()
    if not org_public.verify(signed, signature):
        raise InvalidSignature


def _text_bytes(text: str) -> bytes:
    raw = text.encode("utf-8")
    return bytes([len(raw)]) + raw


def _read_text(reader: Reader, encoding: str) -> str:
    try:
        return reader.take(reader.number(1)).decode(encoding)
    except UnicodeDecodeError as exc:
        raise reader.fail() from exc


def _read_count(reader: Reader) -> int:
    count = reader.number(4)
    if count > _MAX_REVOKED:
        raise reader.fail()
    return count


def _date_bytes(day: date) -> bytes:
    return (day - _EPOCH).days.to_bytes(4, "big")


def _read_date(reader: Reader) -> date:
    try:
        return date.fromordinal(_EPOCH.toordinal() + reader.number(4))
    except (ValueError, OverflowError) as exc:
        raise reader.fail() from exc
