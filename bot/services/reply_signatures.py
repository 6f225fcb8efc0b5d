"""Which stored replies may reach a reporter: the signature check of I9, done without decrypting.

Every reply in ``mailbox_messages`` carries who signed it (caseworker or bot), the key id of the
signing key and an Ed25519 signature over its reply statement (docs/crypto.md, "Mailbox messages
and replies"). The statement is rebuilt here from what the server stores *around* the row — the
report's case reference and id, the mailbox key id, the row's number and its ciphertext — so a
reply moved to another mailbox, case or number, or with its ciphertext changed, no longer
verifies. The key it is checked against comes from a certificate verified now against the
pinned organisation key and the latest valid revocation list, never from the row:

- a bot reply (``/reply``): the bot's key, while its certificate is valid;
- a caseworker's reply file: the signing key of a caseworker :func:`~bot.services.caseworkers.
  assess` finds eligible today.

A reporter is being hunted by fake profiles: a reply that fails this check is an entrapment tool
and is never shown (nor opened). ``/status`` and ``sanad admin status`` both ask
:class:`ReplySigners`, so what the admin is told is dropped is exactly what reporters are not shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.bot_identity import BotIdentity
from bot.services.caseworkers import assess
from crypto import CryptoError, ReplySigner, ReplyStatement, RevocationList, verify_bot_certificate
from crypto.keys import Ed25519PublicKey
from storage.models import Caseworker, MailboxMessage


def certified_bot_key(
    bot: BotIdentity,
    org_public: Ed25519PublicKey,
    revocations: RevocationList | None,
    today: dt.date,
) -> Ed25519PublicKey | None:
    """The bot's key if its certificate still verifies today, else None.

    The running bot was certified when it started; a certificate that has expired or been
    revoked since vouches for nothing.
    """
    try:
        certificate = verify_bot_certificate(
            bot.certificate, org_public, revocations=revocations, today=today
        )
    except CryptoError:
        return None
    return certificate.key if certificate.key == bot.public_key else None


@dataclass(frozen=True)
class ReplySigners:
    """The keys that may vouch for a reply today, each taken from a certificate verified now."""

    bot: Ed25519PublicKey | None
    caseworkers: Mapping[bytes, Ed25519PublicKey]  # signing key id -> signing key

    def _key(self, signer: ReplySigner, key_id: bytes) -> Ed25519PublicKey | None:
        if signer is ReplySigner.BOT:
            return self.bot if self.bot is not None and self.bot.key_id == key_id else None
        return self.caseworkers.get(key_id)

    def vouch_for(
        self,
        message: MailboxMessage,
        *,
        case_reference: str,
        report_id: bytes,
        mailbox_key_id: bytes,
    ) -> bool:
        """Whether ``message``'s signature verifies for this case, mailbox and number (I9).

        False for a row without a signature, with an unknown signer or a signer whose
        certificate is not valid now, and for any row moved or altered since it was signed.
        """
        if message.signature is None or message.signer_key_id is None:
            return False
        try:
            signer = ReplySigner(message.signer)
            statement = ReplyStatement(
                signer=signer,
                case_reference=case_reference,
                report_id=report_id,
                mailbox_key_id=mailbox_key_id,
                sequence=message.sequence,
                sealed_reply=message.message_sealed,
            )
        except (ValueError, CryptoError):  # a value no signed statement can hold
            return False
        key = self._key(signer, message.signer_key_id)
        if key is None:
            return False
        try:
            statement.verify(key, message.signature)
        except CryptoError:
            return False
        return True


async def reply_signers(
    session: AsyncSession,
    org_public: Ed25519PublicKey,
    today: dt.date,
    *,
    revocations: RevocationList | None,
    bot_key: Ed25519PublicKey | None,
) -> ReplySigners:
    """Who may vouch for a reply today: ``bot_key`` (already checked by the caller, e.g. with
    :func:`certified_bot_key`) and every caseworker eligible today (I4's own test, with
    ``revocations`` from :func:`~bot.services.caseworkers.latest_revocations`).

    ``org_public`` is the pinned key from the configuration, never one read from the database.
    """
    rows = await session.scalars(select(Caseworker).order_by(Caseworker.id))
    caseworkers = {
        recipient.keys.signing.key_id: recipient.keys.signing
        for recipient in (assess(row, org_public, today, revocations).recipient for row in rows)
        if recipient is not None
    }
    return ReplySigners(bot_key, caseworkers)
