"""Caseworkers' replies in Telegram: ``/reply CASE TEXT`` and uploaded reply files.

``/reply K7Q-4M2P Your report was received...`` from a verified caseworker assigned to the case:
the text is sealed to the reporter's mailbox at once and the caseworker's message is deleted,
because it held the reply in clear in their chat (Telegram still saw it; the README says so). A
caseworker who would rather Telegram never saw the words uploads a reply file made on their own
machine by ``sanad caseworker reply`` instead: it is checked against their certificate and stored
as it came, sealed and signed.

Who may reply is decided by the service (``bot.services.mailbox``, I4); a refusal is one sentence
that says nothing about other people's cases. Caseworker-facing text is English, kept below.
Nothing is logged but event names and counts.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, TypeAlias

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.logs import event, get_logger
from handlers.chat import delete_in_clear

Context: TypeAlias = ContextTypes.DEFAULT_TYPE

_log = get_logger("reply_commands")

# Reply files are a few KiB; anything far larger is not one, and is not downloaded.
MAX_REPLY_FILE_BYTES = 1024 * 1024
REPLY_FILE_SUFFIX = ".sanad"

USAGE = "Usage: /reply CASE TEXT, for example /reply K7Q-4M2P Thank you, we are looking into it."
STORED = "Reply {number} to {case} is sealed and stored; only the reporter can read it."
DELETED_NOTE = "Your message with the text in clear has been deleted from this chat."
NOT_DELETED_NOTE = (
    "Your message with the text in clear could not be deleted: please delete it yourself."
)
TOO_BIG = "This file is too large to be a reply file."
# "/reply CASE TEXT" (or "/reply@bot ..."); the text keeps its own line breaks.
_REPLY_COMMAND = re.compile(r"\A/\w+(?:@\w+)?\s+(?P<case>\S+)\s+(?P<text>\S.*)\Z", re.DOTALL)


class StoredReplyView(Protocol):
    """What the service confirms: the case and the reply's number."""

    @property
    def case_reference(self) -> str: ...

    @property
    def sequence(self) -> int: ...


class ReplyStore(Protocol):
    """The service side (``bot.services.mailbox.MailboxService`` implements it)."""

    async def store_reply(
        self, *, chat_id: int, case_reference: str, text: str
    ) -> StoredReplyView: ...

    async def store_reply_file(self, *, chat_id: int, data: bytes) -> StoredReplyView: ...


class ReplyCommands:
    """The two handlers.

    ``refusal`` is the service's exception type whose message is written for the caseworker and
    shown as is; anything else reaches the application's error handler (after the message with
    the text in clear is deleted).
    """

    def __init__(self, store: ReplyStore, refusal: type[Exception]) -> None:
        self._store = store
        self._refusal = refusal

    async def reply(self, update: Update, context: Context) -> None:
        """Seals and stores the reply text, then deletes the caseworker's message."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        parsed = _REPLY_COMMAND.match(message.text or "")
        if parsed is None:
            answer = USAGE
        else:
            try:
                stored = await self._store.store_reply(
                    chat_id=chat.id, case_reference=parsed["case"], text=parsed["text"].strip()
                )
                answer = _stored(stored)
                event(_log, "reply.accepted", signed_file=0)
            except self._refusal as exc:
                answer = _refusal_text(exc)
            finally:
                # Whatever happened, the words must not stay in the chat in clear.
                deleted = await delete_in_clear(message)
            answer += "\n" + (DELETED_NOTE if deleted else NOT_DELETED_NOTE)
        await context.bot.send_message(chat.id, answer)

    async def reply_file(self, update: Update, context: Context) -> None:
        """Checks an uploaded reply file against the sender's certificate and stores it."""
        message, chat = update.effective_message, update.effective_chat
        document = message.document if message is not None else None
        if document is None or chat is None:
            return
        answer = TOO_BIG
        # Telegram's claimed size first, so an oversized upload is never downloaded.
        if document.file_size is None or document.file_size <= MAX_REPLY_FILE_BYTES:
            telegram_file = await document.get_file()
            data = bytes(await telegram_file.download_as_bytearray())
            if len(data) <= MAX_REPLY_FILE_BYTES:
                try:
                    stored = await self._store.store_reply_file(chat_id=chat.id, data=data)
                    answer = _stored(stored)
                    event(_log, "reply.accepted", signed_file=1)
                except self._refusal as exc:
                    answer = _refusal_text(exc)
        await context.bot.send_message(chat.id, answer)


def _stored(stored: StoredReplyView) -> str:
    """The confirmation, numbering replies from 1 as the reporter's ``/status`` lists them.

    The mailbox's own sequence starts at 0 (the number a reply file is made for); people count
    from 1, and the caseworker and the reporter must name the same reply the same way.
    """
    return STORED.format(number=stored.sequence + 1, case=stored.case_reference)


def _refusal_text(exc: Exception) -> str:
    """A refusal's own sentence, capitalised, with its hint line if it has one."""
    event(_log, "reply.refused")
    text = str(exc)
    text = text[:1].upper() + text[1:] + "."
    hint = getattr(exc, "hint", None)
    return f"{text}\nHint: {hint}." if hint else text


def install_reply_commands(
    application: Application[Any, Context, Any, Any, Any, Any],
    store: ReplyStore,
    refusal: type[Exception],
) -> ReplyCommands:
    """Add ``/reply`` and the reply-file upload handler (private chats only).

    Register after the reporter's conversations: a document sent while a reporter is at the
    evidence step belongs to their report, and only a ``.sanad`` file outside any conversation
    reaches this handler.
    """
    commands = ReplyCommands(store, refusal)
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("reply", commands.reply, filters=private))
    application.add_handler(
        MessageHandler(
            private & filters.Document.FileExtension(REPLY_FILE_SUFFIX.lstrip(".")),
            commands.reply_file,
        )
    )
    return commands
