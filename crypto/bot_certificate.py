"""The bot certificate (docs/crypto.md, "Bot certificate").

The bot holds an Ed25519 key of its own (generated in the server's state directory, never in the
database). The organisation signs a short certificate for it with ``sanad admin certify-bot``;
every sealed file the bot sends and every reply the bot seals carries the bot's signature, and the
certificate ties that signature to the organisation key a caseworker pinned at
``sanad caseworker init`` (I9). Someone who knows a caseworker's public key can seal a file to it,
but cannot sign as the bot.

    bot certificate = "sbot" || version (2) || signer key id (16) || bot public key (32)
                      || serial (u64) || not-before (u32 day) || expires (u32 day)
                      || Ed25519 signature by the organisation signing key (64)

Certificates are short-lived on purpose (``sanad admin certify-bot`` gives 90 days by default):
a caseworker's computer has no revocation list, so expiry is what ends a stolen bot key's reach
there. The bot's own checks also consult the revocation list (its key id can be revoked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from crypto._signed import (
    CertificateRevoked,
    MalformedCertificate,
    check_period,
    check_signature,
    check_validity,
    date_bytes,
    read_date,
    sign,
    signed_header,
    signed_reader,
)
from crypto.certificates import RevocationList
from crypto.keys import Ed25519PublicKey, Ed25519SigningKey

BOT_CERTIFICATE_MAGIC = b"sbot"
VERSION = 2
_WHAT = "bot certificate"


@dataclass(frozen=True)
class BotCertificate:
    """A verified bot certificate: the key the organisation vouches for, and for how long."""

    key: Ed25519PublicKey
    serial: int
    not_before: date
    expires: date

    def __post_init__(self) -> None:
        if not 0 <= self.serial < 2**64:
            raise MalformedCertificate("a certificate serial is an unsigned 64-bit integer")
        check_period(self.not_before, self.expires)


def issue_bot_certificate(certificate: BotCertificate, signing_key: Ed25519SigningKey) -> bytes:
    """The bot certificate's canonical bytes signed with the organisation signing key."""
    body = b"".join(
        [
            signed_header(BOT_CERTIFICATE_MAGIC, VERSION, signing_key.public_key),
            certificate.key.raw,
            certificate.serial.to_bytes(8, "big"),
            date_bytes(certificate.not_before),
            date_bytes(certificate.expires),
        ]
    )
    return sign(body, signing_key)


def verify_bot_certificate(
    data: bytes,
    org_public: Ed25519PublicKey,
    *,
    revocations: RevocationList | None = None,
    today: date | None = None,
) -> BotCertificate:
    """The bot certificate in ``data``, if the organisation signed it and it is in force.

    Raises the errors of :func:`crypto.certificates.verify_certificate`; CertificateRevoked when
    ``revocations`` lists the bot key's id.
    """
    reader = signed_reader(data, BOT_CERTIFICATE_MAGIC, VERSION, _WHAT, org_public)
    certificate = BotCertificate(
        key=reader.public_key(Ed25519PublicKey),
        serial=reader.number(8),
        not_before=read_date(reader),
        expires=read_date(reader),
    )
    check_signature(data, reader, org_public)
    check_validity(certificate.not_before, certificate.expires, today)
    if revocations is not None and revocations.revokes_key(certificate.key.key_id):
        raise CertificateRevoked
    return certificate
