"""The chat side of a reporter's conversation, shared by the report flow and ``/status``.

Both flows hold what a conversation wrote in a :class:`~handlers.draft.Draft` and must leave the
chat empty when it ends (I7), so both send, remember, erase and take files through one
:class:`ConversationChat`:

- :meth:`ConversationChat.say` shows plain text (no parse mode: reporter text cannot inject
  markup) and records the message in the draft. After a button press it edits the pressed
  message into the next screen (one Bot API call, and one message fewer in the chat); after the
  reporter's own message it sends a new one below it; :meth:`~ConversationChat.remember_incoming`
  records the reporter's own messages. Every message of a conversation is recorded, so every one
  can be deleted.
- :meth:`ConversationChat.close` wipes the draft (I1) and deletes what it recorded with
  ``deleteMessages``, at most 100 ids per call (Telegram's limit); ids that cannot be deleted then
  go to the :class:`~handlers.ports.HousekeepingPort`, which seals them for the erase job (I2).
  Every id recorded is also journalled through that port as the conversation goes, so a hard
  stop (SIGKILL, out of memory) leaves the erase job of the next start all but the last few
  seconds' messages; :meth:`~ConversationChat.close` then drops the journal's copy.
- :meth:`ConversationChat.answer_outside` answers a message outside any conversation; both are
  erased a short while later through the same port.
- :meth:`ConversationChat.take_evidence` checks a file against the limits, downloads it into
  memory (I1: never a temporary file) and cleans it in the evidence sandbox, a limited worker
  process, so one reporter's PDF never stalls the others (I8) nor takes the bot down.

Module functions cover what needs no port: the ConversationHandler both flows are built as,
answering a button press, answering a stale one, the reporter's language before they have chosen
one, and inline keyboards. Nothing here logs content
or identifiers, only event names and counts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, BaseHandler, ContextTypes
from telegram.warnings import PTBUserWarning

from bot.logs import event, get_logger
from crypto.originals import OriginalFile
from handlers.budget import FreeDisk, MemoryBudget
from handlers.draft import Draft, DraftAttachment
from handlers.evidence import CleanedEvidence, check_size, shared_sandbox
from handlers.i18n import DEFAULT_LANGUAGE, N_, Notice, Refused, translator
from handlers.idle import IdleCallback, IdleEndingConversation
from handlers.ports import HousekeepingPort

Context: TypeAlias = ContextTypes.DEFAULT_TYPE
Handler: TypeAlias = BaseHandler[Update, Context, Any]

_log = get_logger("chat")

# Telegram's deleteMessages takes at most 100 ids per call.
DELETE_CHUNK = 100

STALE_BUTTON = N_("This button is no longer active. Please use the latest message.")
NOT_A_FILE = Refused(Notice(N_("This kind of message cannot be added here.")))
# The bot-wide budget of files held by open drafts is full (handlers/budget.py).
FILES_BUDGET_FULL = Refused(
    Notice(
        N_(
            "Many files are being held for reports right now. Please send this file again in a "
            "few minutes; everything you have sent so far is kept."
        )
    )
)
# The disk is (nearly) full: nothing can be committed, so nothing is taken in.
NO_ROOM = N_(
    "This could not be saved right now, and nothing of it was kept. Please try again later; "
    "what you have written so far is still here."
)


def chat_conversation(
    *,
    name: str,
    entry_points: list[Handler],
    states: Mapping[object, list[Handler]],
    fallbacks: list[Handler],
    timeout: dt.timedelta,
    on_idle: IdleCallback,
) -> IdleEndingConversation:
    """A reporter conversation: one per chat, ended by ``on_idle`` after ``timeout`` without an
    update (:mod:`handlers.idle`), and never persisted (I1).

    ``per_message=False`` is deliberate: a chat has one conversation, whose buttons are checked
    against the current state by their patterns (stale ones are answered as such), so PTB's
    warning about it is silenced here rather than in every flow.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message=False", category=PTBUserWarning)
        return IdleEndingConversation(
            entry_points=entry_points,
            states=states,
            fallbacks=fallbacks,
            idle_after=timeout,
            on_idle=on_idle,
            name=name,
        )


def keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Inline buttons from rows of (label, callback data); labels are already translated."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def user_language(update: object, offered: Sequence[str]) -> str:
    """The language to answer in before the reporter has chosen one: one of ``offered``.

    Telegram's language code of the user when the deployment offers it, else English if offered,
    else the first offered language.
    """
    user = update.effective_user if isinstance(update, Update) else None
    code = (user.language_code or "")[:2] if user is not None else ""
    if code in offered:
        return code
    return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in offered else offered[0]


async def acknowledge(query: CallbackQuery | None, text: str | None = None) -> Message | None:
    """Answer the button press; return the message that carried the button, if the bot can see it.

    The caller shows its next screen by editing that message in place (``say(...,
    replacing=...)``): one Bot API call instead of taking the keyboard off and sending a new
    message, and one message fewer on a phone glanced at mid-report. The edit replaces the
    pressed keyboard, so the pressed button cannot be reused; a press on a message the bot can no
    longer see (deleted, or forged) returns None and the next screen is a new message.
    """
    if query is None:
        return None
    try:
        await query.answer(text)
    except TelegramError:
        event(_log, "acknowledge_failed", logging.DEBUG)
    return query.message if isinstance(query.message, Message) else None


async def answer_stale(update: Update, language: str) -> None:
    """Answer a press on a button that is no longer (or never was) live, as an alert."""
    query = update.callback_query
    if query is None:
        return
    try:
        await query.answer(translator(language)(STALE_BUTTON), show_alert=True)
    except TelegramError:
        event(_log, "stale_answer_failed", logging.DEBUG)


async def delete_in_clear(message: Message) -> bool:
    """Delete a message that carried something in clear (an enrolment code, a reply's text).

    False when Telegram refuses (too old, already gone, bot blocked); the caller says so.
    """
    try:
        return await message.delete()
    except TelegramError:
        event(_log, "delete_in_clear_failed")
        return False


def erase_message_later(housekeeping: HousekeepingPort, update: object) -> None:
    """Have the message of ``update`` erased a short while later, if it carries one (a button
    press does not): for updates no conversation records, refused or dropped under a flood
    (I7)."""
    if not isinstance(update, Update) or update.callback_query is not None:
        return
    message, chat = update.effective_message, update.effective_chat
    if message is not None and chat is not None:
        housekeeping.erase_later(chat.id, [message.message_id])


def open_draft(context: Context) -> Draft | None:
    """The draft of whichever conversation is open in this user's data (a flow keeps its
    :class:`Draft` directly or as the ``draft`` of its session), so that any message the bot
    sends there is erased with that conversation (I7)."""
    for state in (context.user_data or {}).values():
        draft = getattr(state, "draft", state)
        if isinstance(draft, Draft):
            return draft
    return None


def take_from_user_data(update: object, context: Context, key: str) -> object | None:
    """Remove and return what a flow kept under ``key`` in the user's data.

    PTB keys ``user_data`` by user id; an entry left empty would keep that id in memory after the
    conversation, so an emptied entry is dropped.
    """
    data = context.user_data
    if data is None:
        return None
    found: object | None = data.pop(key, None)
    user = update.effective_user if isinstance(update, Update) else None
    if not data and user is not None:
        context.application.drop_user_data(user.id)
    return found


class ConversationChat:
    """Sending, remembering, erasing and taking files for one flow's conversations.

    Holds no conversation state of its own (that is the caller's :class:`Draft`), only the
    housekeeping port and the file limits, so each flow may have its own instance. All flows
    share the bot's one cleaning sandbox, and should share one ``memory_budget``: their bounds
    hold for the whole bot. ``free_disk`` is checked before a file is taken in.
    """

    def __init__(
        self,
        housekeeping: HousekeepingPort,
        *,
        max_files: int,
        max_file_bytes: int,
        memory_budget: MemoryBudget | None = None,
        free_disk: FreeDisk | None = None,
    ) -> None:
        self.housekeeping = housekeeping
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.memory_budget = memory_budget
        self.free_disk = free_disk or FreeDisk()
        self.sandbox = shared_sandbox()

    async def hand_over(
        self,
        application: Application[Any, Context, Any, Any, Any, Any],
        key: str,
        draft_of: Callable[[object], Draft | None],
    ) -> int:
        """Give every open conversation's message ids to housekeeping and wipe its draft.

        For a stopping process: the drafts die with it (I1) but their chats must still be erased
        (I7). ``key`` is where the flow keeps its state in each user's data and ``draft_of``
        turns that state into its draft (None for anything else). Returns how many
        conversations were handed over.
        """
        handed = 0
        for data in list(application.user_data.values()):
            draft = draft_of(data.pop(key, None))
            if draft is None:
                continue
            ids = draft.take_messages()
            if draft.chat_id is not None and ids:
                await self.housekeeping.keep_for_erasure(draft.chat_id, ids)
                await self.housekeeping.settle(draft.chat_id)  # kept whole: the journal goes
                handed += 1
            draft.wipe()
        return handed

    async def say(
        self,
        context: Context,
        draft: Draft,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        *,
        replacing: Message | None = None,
    ) -> Message:
        """Show plain text in the draft's chat and remember the message for erasure.

        With ``replacing`` (the pressed message :func:`acknowledge` returned) the text and
        ``markup`` replace that message in place, keyboard included; when Telegram refuses the
        edit (the message is gone, or is not the bot's) a new message is sent instead. Without
        it a new message is sent: after the reporter typed or sent a file the question must come
        below their message. Raises ``LookupError`` for a draft without a chat (a wiped one).
        """
        if draft.chat_id is None:
            raise LookupError("a draft without a chat cannot be answered")
        if replacing is not None and replacing.text == text and replacing.reply_markup == markup:
            # A second press that leads to the same screen (Send with nothing to send): it is
            # already shown, and Telegram refuses an edit that changes nothing.
            return replacing
        if replacing is not None:
            try:
                edited = await context.bot.edit_message_text(
                    text,
                    chat_id=draft.chat_id,
                    message_id=replacing.message_id,
                    reply_markup=markup,
                )
            except TelegramError:
                event(_log, "edit_failed", logging.DEBUG)
            else:
                # I7: already recorded when sent, unless it was pressed on an older conversation's
                # message still in the chat; remembering again is a no-op otherwise.
                await self.remember(context, draft, replacing.message_id)
                return edited if isinstance(edited, Message) else replacing
        message = await context.bot.send_message(draft.chat_id, text, reply_markup=markup)
        await self.remember(context, draft, message.message_id)
        return message

    async def remember(self, context: Context, draft: Draft, message_id: int) -> None:
        """Record a message id, and journal it; when the record is full, erase what it holds now.

        I7 across a hard stop: the journal stores the id, sealed, within seconds, so a bot
        killed before the conversation ends still has it erased at its next start.
        """
        if draft.chat_id is not None:
            self.housekeeping.journal(draft.chat_id, message_id)
        if draft.remember(message_id):
            ids = draft.take_messages()
            draft.remember(ids[-1])  # keep the latest: it may carry the buttons in use
            await self.erase(context, draft.chat_id, ids[:-1])

    async def remember_incoming(self, update: Update, context: Context, draft: Draft) -> None:
        """Record the reporter's message of ``update``; a button press sends no message."""
        message = update.effective_message
        if message is not None and update.callback_query is None:
            await self.remember(context, draft, message.message_id)

    async def erase(self, context: Context, chat_id: int | None, ids: Sequence[int]) -> None:
        """Delete ``ids`` from the chat, 100 per call; hand what fails to housekeeping."""
        if chat_id is None or not ids:
            return
        for start in range(0, len(ids), DELETE_CHUNK):
            chunk = list(ids[start : start + DELETE_CHUNK])
            try:
                await context.bot.delete_messages(chat_id, chunk)
            except TelegramError:
                # I7 must still happen: the erase job retries with what we could not delete.
                event(_log, "erase_deferred", logging.WARNING, messages=len(ids) - start)
                await self.housekeeping.keep_for_erasure(chat_id, list(ids[start:]))
                return

    async def close(self, update: object, context: Context, draft: Draft | None) -> int:
        """End a conversation: wipe ``draft`` and erase its messages and the update's own.

        The chat is the draft's, or the update's when there is no draft (a ``/forget`` with
        nothing open still deletes the command itself). Returns how many ids were erased or
        handed to housekeeping.
        """
        chat_id = draft.chat_id if draft is not None else None
        if chat_id is None and isinstance(update, Update) and update.effective_chat is not None:
            chat_id = update.effective_chat.id
        ids = draft.take_messages() if draft is not None else []
        message = update.effective_message if isinstance(update, Update) else None
        if message is not None and message.message_id not in ids:
            ids.append(message.message_id)
        if chat_id is not None:
            # What was said outside the conversation goes too: the chat is emptied now, not
            # when the outside messages' short hold ends (I7).
            ids += [i for i in self.housekeeping.outside_messages(chat_id) if i not in ids]
        if draft is not None:
            draft.wipe()
        await self.erase(context, chat_id, ids)
        if chat_id is not None:
            # Erased or kept for the erase job: the journal's copy would only be erased twice.
            # Not reached when erasing raised: the journal then still has them after a restart.
            await self.housekeeping.settle(chat_id)
        return len(ids)

    async def answer_outside(self, update: Update, context: Context, text: str) -> None:
        """Answer a message that no conversation holds; both are erased a short while later.

        I7 outside conversations too: ``/help`` names the organisation and what the bot is for,
        and a refusal shows that someone wrote to it. The reporter's message (not a button
        press, which sends none) and the answer go to :meth:`HousekeepingPort.erase_later`.
        """
        chat = update.effective_chat
        if chat is None:
            return
        try:
            sent = await context.bot.send_message(chat.id, text)
            self.housekeeping.erase_later(chat.id, [sent.message_id])
        finally:
            erase_message_later(self.housekeeping, update)

    async def take_evidence(
        self,
        context: Context,
        draft: Draft,
        message: Message,
        *,
        still_open: Callable[[], bool],
    ) -> DraftAttachment | Refused | None:
        """Check, download and clean the file of ``message``, and add it to ``draft``.

        Refuses (with a notice to render) past ``max_files``, for a message without a file, and
        for a file Telegram says is over ``max_file_bytes`` — before downloading anything.
        What cleaning changed that the reporter should know (a PDF's text became pictures, an
        animation kept its first frame) is said here, for every flow. Returns the attachment
        added, the refusal, or None when ``still_open()`` turned false
        while the file was processed (the conversation was erased: nothing is added).
        """
        if len(draft.attachments) + draft.files_in_progress >= self.max_files:
            return Refused(
                Notice(
                    N_("You have reached the maximum number of files: {limit}."),
                    {"limit": self.max_files},
                )
            )
        attachment = message.effective_attachment
        if isinstance(attachment, tuple):  # a photo comes in several sizes: take the largest
            attachment = attachment[-1] if attachment else None
        file_id = getattr(attachment, "file_id", None)
        if not isinstance(file_id, str):
            return NOT_A_FILE
        size = getattr(attachment, "file_size", None)
        refusal = check_size(size, self.max_file_bytes)
        if refusal is not None:
            return refusal
        # Bounds across all reporters (handlers/budget.py), before anything is downloaded: an
        # unknown size holds the per-file limit until the cleaned size is known.
        expected = size if isinstance(size, int) else self.max_file_bytes
        if not self.free_disk.has_room(expected):
            event(_log, "evidence_refused.no_disk_room", logging.WARNING)
            return Refused(Notice(NO_ROOM))
        reservation = self.memory_budget.reserve(expected) if self.memory_budget else None
        if self.memory_budget is not None and reservation is None:
            event(_log, "evidence_refused.memory_budget", logging.WARNING)
            return FILES_BUDGET_FULL
        kept = False
        try:
            draft.files_in_progress += 1
            try:
                result = await self._fetch_and_clean(context, file_id)
            finally:
                draft.files_in_progress -= 1
            if not still_open():
                return None
            if isinstance(result, Refused):
                return result
            if reservation is not None and not reservation.resize(len(result[0].data)):
                event(_log, "evidence_refused.memory_budget", logging.WARNING)
                return FILES_BUDGET_FULL
            cleaned, original = result
            added = DraftAttachment(
                cleaned.kind,
                cleaned.media_type,
                cleaned.filename,
                bytearray(cleaned.data),
                reservation,
                original,
            )
            kept = True
        finally:
            if reservation is not None and not kept:
                reservation.release()
        draft.attachments.append(added)
        if cleaned.notes:  # what cleaning changed (a PDF's text became pictures), before "added"
            _ = translator(draft.language)
            await self.say(context, draft, "\n".join(note.render(_) for note in cleaned.notes))
        return added

    async def _fetch_and_clean(
        self, context: Context, file_id: str
    ) -> tuple[CleanedEvidence, OriginalFile] | Refused:
        """Download into memory (I1: never a temporary file) and clean in the sandbox; with the
        cleaned copy, the record of the file exactly as downloaded (its SHA-256 and size, the
        type and changes cleaning found), for the caseworker to match against the original."""
        telegram_file = await context.bot.get_file(file_id)
        downloaded = await telegram_file.download_as_bytearray()
        try:
            # Off the event loop: hashing megabytes would hold up every other reporter (I8).
            digest = (await asyncio.to_thread(hashlib.sha256, downloaded)).digest()
            size = len(downloaded)
            result = await self.sandbox.clean(bytes(downloaded), max_bytes=self.max_file_bytes)
        finally:
            downloaded[:] = bytes(len(downloaded))
        if isinstance(result, Refused):
            return result
        return result, OriginalFile(digest, size, result.source_type, result.changes)
