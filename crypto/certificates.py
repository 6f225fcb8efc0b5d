"""Caseworker certificates and the revocation list (docs/crypto.md, "Certificates and revocation
list").

An admin approves a caseworker by signing a certificate with the organisation signing key; the bot
seals to a caseworker's key only after :func:`verify_certificate` accepts it against the pinned
organisation key (I4). Since format v2 the certificate also names the Telegram chat the
caseworker enrolled from (I9): the bot delivers to that chat and takes caseworker commands from
it only, whatever a database column says. Revocation is a signed list whose serial only goes up,
so an old list cannot be replayed to un-revoke someone.

Certificates and lists are public data, so their errors are precise (see :mod:`crypto._signed`).
A certificate is valid from ``not_before`` (inclusive) until ``expires`` (exclusive), in whole
UTC days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from crypto._reader import Reader
from crypto._signed import (
    CertificateError,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    InvalidSignature,
    MalformedCertificate,
    SignedByAnotherKey,
    UnsignedCertificate,
    check_period,
    check_signature,
    check_validity,
    date_bytes,
    read_date,
    read_text,
    sign,
    signed_header,
    signed_reader,
    text_bytes,
    today_utc,
)
from crypto.keys import (
    KEY_ID_BYTES,
    CaseworkerPublicKeys,
    Ed25519PublicKey,
    Ed25519SigningKey,
    X25519PublicKey,
)

__all__ = [
    "Certificate",
    "CertificateError",
    "CertificateExpired",
    "CertificateNotYetValid",
    "CertificateRevoked",
    "InvalidSignature",
    "MalformedCertificate",
    "RevocationList",
    "RevocationListRollback",
    "SignedByAnotherKey",
    "UnsignedCertificate",
    "issue_certificate",
    "issue_revocation_list",
    "today_utc",
    "verify_certificate",
    "verify_revocation_list",
]

CERTIFICATE_MAGIC = b"scrt"
REVOCATION_MAGIC = b"srev"
VERSION = 2
_CASEWORKER_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_MAX_LABEL_BYTES = 255
_MAX_REVOKED = 100_000
_CHAT_ID_RANGE = range(-(2**63), 2**63)


class RevocationListRollback(CertificateError):
    """This revocation list is older than one already accepted."""


@dataclass(frozen=True)
class Certificate:
    """A caseworker's verified certificate: who they are, which keys to trust for them, and the
    one Telegram chat that speaks and receives for them."""

    caseworker_id: str
    label: str
    delivery_chat_id: int
    keys: CaseworkerPublicKeys
    serial: int
    not_before: date
    expires: date

    def __post_init__(self) -> None:
        if not _CASEWORKER_ID_RE.match(self.caseworker_id):
            raise MalformedCertificate("a caseworker id is 1 to 64 of A-Z, a-z, 0-9, '_.-'")
        if not 0 < len(self.label.encode("utf-8")) <= _MAX_LABEL_BYTES:
            raise MalformedCertificate("a caseworker label is 1 to 255 bytes")
        if self.delivery_chat_id not in _CHAT_ID_RANGE:
            raise MalformedCertificate("a delivery chat id is a signed 64-bit integer")
        if not 0 <= self.serial < 2**64:
            raise MalformedCertificate("a certificate serial is an unsigned 64-bit integer")
        check_period(self.not_before, self.expires)


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
            or self.revokes_key(certificate.keys.encryption.key_id)
            or self.revokes_key(certificate.keys.signing.key_id)
        )

    def revokes_key(self, key_id: bytes) -> bool:
        """True when this key id (a caseworker's or the bot's) is on this list."""
        return key_id in self.key_ids


def issue_certificate(certificate: Certificate, signing_key: Ed25519SigningKey) -> bytes:
    """The certificate's canonical bytes signed with the organisation signing key."""
    return sign(_certificate_body(certificate, signing_key.public_key), signing_key)


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
    reader = signed_reader(data, CERTIFICATE_MAGIC, VERSION, "certificate", org_public)
    caseworker_id = read_text(reader, "ascii")
    label = read_text(reader, "utf-8")
    chat_id = int.from_bytes(reader.take(8), "big", signed=True)
    keys = CaseworkerPublicKeys(
        reader.public_key(X25519PublicKey), reader.public_key(Ed25519PublicKey)
    )
    certificate = Certificate(
        caseworker_id=caseworker_id,
        label=label,
        delivery_chat_id=chat_id,
        keys=keys,
        serial=reader.number(8),
        not_before=read_date(reader),
        expires=read_date(reader),
    )
    check_signature(data, reader, org_public)
    check_validity(certificate.not_before, certificate.expires, today)
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
    body = bytearray(signed_header(REVOCATION_MAGIC, VERSION, signing_key.public_key))
    body += serial.to_bytes(8, "big") + date_bytes(issued or today_utc())
    body += len(ids).to_bytes(4, "big")
    for caseworker_id in ids:
        body += text_bytes(caseworker_id)
    body += len(keys).to_bytes(4, "big") + b"".join(keys)
    return sign(bytes(body), signing_key)


def verify_revocation_list(
    data: bytes, org_public: Ed25519PublicKey, *, min_serial: int
) -> RevocationList:
    """The revocation list in ``data``, if the organisation signed it and it is not older.

    ``min_serial`` is the serial of the last list accepted (0 when none): an equal serial is
    the same list again, a lower one is a rollback and raises RevocationListRollback.
    Otherwise raises the signature and format errors of :func:`verify_certificate`.
    """
    reader = signed_reader(data, REVOCATION_MAGIC, VERSION, "revocation list", org_public)
    serial = reader.number(8)
    issued = read_date(reader)
    ids = [read_text(reader, "ascii") for _ in range(_read_count(reader))]
    keys = [reader.take(KEY_ID_BYTES) for _ in range(_read_count(reader))]
    check_signature(data, reader, org_public)
    if serial < min_serial:
        raise RevocationListRollback
    return RevocationList(serial, issued, frozenset(ids), frozenset(keys))


def _certificate_body(certificate: Certificate, signer: Ed25519PublicKey) -> bytes:
    return b"".join(
        [
            signed_header(CERTIFICATE_MAGIC, VERSION, signer),
            text_bytes(certificate.caseworker_id),
            text_bytes(certificate.label),
            certificate.delivery_chat_id.to_bytes(8, "big", signed=True),
            certificate.keys.encryption.raw,
            certificate.keys.signing.raw,
            certificate.serial.to_bytes(8, "big"),
            date_bytes(certificate.not_before),
            date_bytes(certificate.expires),
        ]
    )


def _read_count(reader: Reader) -> int:
    count = reader.number(4)
    if count > _MAX_REVOKED:
        raise reader.fail()
    return count
