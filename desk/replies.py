"""A caseworker's reply as the file they upload to the bot (docs/crypto.md, "Mailbox messages").

The reply is sealed to the reporter's mailbox key carried in the report file — trusted only once
that file chained to the organisation key and opened with the caseworker's key, so a file edited
on the way cannot redirect it — and signed with the caseworker's signing key, which the bot
checks against their certificate. The command line and the desk both build replies here.
"""

from __future__ import annotations

from crypto.keys import CaseworkerKeys, X25519PublicKey
from crypto.mailbox_messages import ReplySigner, ReplyStatement, seal_reply, write_reply_file
from crypto.sealed_file import OpenedFile
from desk.errors import DeskError


def reply_file_name(case_reference: str, number: int) -> str:
    """``reply-K7Q4M2P-1.sanad`` for the first reply: people count replies from 1."""
    return f"reply-{case_reference.replace('-', '')}-{number}.sanad"


def mailbox_key(opened: OpenedFile) -> X25519PublicKey:
    """The reporter's mailbox key the report carries, or a :class:`DeskError` when it carries
    none (its reporter asked for no replies)."""
    if opened.reply_to is None:
        raise DeskError("this report carries no mailbox: its reporter cannot receive replies")
    return opened.reply_to


def signed_reply_file(opened: OpenedFile, keys: CaseworkerKeys, text: str, number: int) -> bytes:
    """The signed, sealed reply file carrying ``text`` as reply ``number`` (from 1) of the case.

    Raises :class:`DeskError` when the report carries no mailbox (:func:`mailbox_key`) or the
    text is empty.
    """
    mailbox = mailbox_key(opened)
    text = text.strip()
    if not text:
        raise DeskError("the reply is empty")
    sequence = number - 1  # the mailbox's sequence starts at 0
    sealed_reply = seal_reply(
        text, report_id=opened.report_id, sequence=sequence, mailbox_public=mailbox
    )
    statement = ReplyStatement(
        signer=ReplySigner.CASEWORKER,
        case_reference=opened.case_reference,
        report_id=opened.report_id,
        mailbox_key_id=mailbox.key_id,
        sequence=sequence,
        sealed_reply=sealed_reply,
    )
    return write_reply_file(statement, keys.signing)
