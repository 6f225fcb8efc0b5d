"""A fixed chain of trust for the crypto tests: an organisation key, a bot key it certified, and
a caseworker's keys (docs/crypto.md, "Bot certificate").

Fixed seeds, so every signature is reproducible (Ed25519 is deterministic).
"""

from __future__ import annotations

from datetime import date

from crypto.body import Answer, Attachment, AttachmentKind, ReportBody
from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.envelope import seal_report
from crypto.header import EnvelopeKind
from crypto.keys import Ed25519SigningKey, X25519PublicKey, X25519SecretKey
from crypto.sealed_file import write_sealed_file

ORG = Ed25519SigningKey(bytes(range(100, 132)))
OTHER_ORG = Ed25519SigningKey(bytes(range(132, 164)))
BOT = Ed25519SigningKey(bytes(range(164, 196)))
ATTACKER = Ed25519SigningKey(bytes(range(196, 228)))
CASEWORKER = X25519SecretKey(bytes(range(1, 33)))
OTHER = X25519SecretKey(bytes(range(33, 65)))
MAILBOX = X25519SecretKey(bytes(range(65, 97))).public_key
DAY = date(2026, 6, 1)
BOT_PERIOD = BotCertificate(BOT.public_key, 1, date(2026, 5, 1), date(2026, 8, 1))
BOT_CERTIFICATE = issue_bot_certificate(BOT_PERIOD, ORG)
CASE_REFERENCE = "K7Q-4M2P"
BODY = ReportBody(
    [Answer("what", "canary-sealed-file")],
    [Attachment("proof.pdf", "application/pdf", AttachmentKind.DOCUMENT, b"%PDF-1.7")],
)


def sealed_file(
    *,
    reply_to: X25519PublicKey | None = MAILBOX,
    kind: EnvelopeKind = EnvelopeKind.ADDENDUM,
    report_id: bytes = bytes(range(16)),
    recipient: X25519PublicKey = CASEWORKER.public_key,
    bot_key: Ed25519SigningKey = BOT,
    bot_certificate: bytes = BOT_CERTIFICATE,
) -> bytes:
    """A sealed file of :data:`BODY` for ``recipient``, signed by ``bot_key`` (sequence 2)."""
    sealed = seal_report(
        BODY.to_bytes(),
        report_id=report_id,
        sequence=2,
        kind=kind,
        recipients=[recipient, OTHER.public_key],
        reply_to=reply_to,
    )
    return write_sealed_file(
        kind=kind,
        case_reference=CASE_REFERENCE,
        report_id=report_id,
        sequence=2,
        reply_to=reply_to,
        wrap=sealed.wraps[0],
        body_sealed=sealed.body_sealed,
        bot_key=bot_key,
        bot_certificate=bot_certificate,
    )
