"""A bot key certified by an organisation, to make the signed sealed files tests open (I9).

What ``sanad admin certify-bot`` and the forward job do on a server, done in memory: a test
that needs a file a caseworker accepts signs it with a :class:`BotSigner` certified by the
organisation key the caseworker pinned; an attack test makes one certified by someone else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from crypto import BotCertificate, EnvelopeKind, Wrap, issue_bot_certificate, write_sealed_file
from crypto.keys import Ed25519SigningKey, X25519PublicKey

TODAY = dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class BotSigner:
    """A bot key and the certificate an organisation key signed for it."""

    key: Ed25519SigningKey = field(repr=False)
    certificate: bytes

    @classmethod
    def certified_by(
        cls,
        organisation: Ed25519SigningKey,
        *,
        not_before: dt.date = TODAY - dt.timedelta(days=1),
        expires: dt.date = TODAY + dt.timedelta(days=90),
    ) -> BotSigner:
        """A fresh bot key with a certificate from ``organisation`` for the given days."""
        key = Ed25519SigningKey.generate()
        certificate = BotCertificate(key.public_key, 1, not_before, expires)
        return cls(key, issue_bot_certificate(certificate, organisation))

    def sealed_file(
        self,
        *,
        kind: EnvelopeKind,
        case_reference: str,
        report_id: bytes,
        sequence: int,
        reply_to: X25519PublicKey | None,
        wrap: Wrap,
        body_sealed: bytes,
    ) -> bytes:
        """The sealed report file, signed by this bot and carrying its certificate."""
        return write_sealed_file(
            kind=kind,
            case_reference=case_reference,
            report_id=report_id,
            sequence=sequence,
            reply_to=reply_to,
            wrap=wrap,
            body_sealed=body_sealed,
            bot_key=self.key,
            bot_certificate=self.certificate,
        )
