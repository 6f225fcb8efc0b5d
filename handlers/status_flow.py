"""The reporter's ``/status``: receipt in, case state and replies out, then an empty chat.

Enter with ``/status`` in a private chat. The bot asks for the receipt; the reporter types it
(Western, Arabic-Indic or Persian digits, any spaces or dashes). A typo is caught by the check
digit and answered at once, before any expensive work. A well-formed receipt goes to the mailbox
service, which runs Argon2id in the bounded pool ("busy, try again in a minute" when it is full)
and returns the case state and the caseworkers' replies, opened in memory. The reporter may then
add information — text and files, cleaned exactly as in the report flow — which is sealed as an
addendum and committed before the conversation is erased.

Leave with "Add" (after sending the addition), the Erase button or ``/forget`` at any step, or by
staying idle for the timeout: each of them wipes what the conversation held (I1) and deletes every
message of it, the receipt included, with ``deleteMessages`` (I7), through :mod:`handlers.chat`
so both reporter flows erase the same way. ``status_flow.mmd`` beside this module shows the
states; change both together.

Order: install this flow before the report flow, in the same handler group. Buttons do not need
it (each flow answers only its own, ``status:`` here), but commands do: while a ``/status``
conversation is open, ``/forget``, ``/start`` and ``/help`` must reach it, not the report flow's
entry points. :func:`install_status_flow` refuses the other order.

No oracle (docs/crypto.md, "Receipts"): a receipt that opens nothing is answered exactly like a
case that is received and has no replies yet, after the same Argon2id and the same database work.
Someone holding a slip of paper with digits on it cannot learn from the bot whether its owner
ever reported; only a reply or a later state, which the receipt's holder is meant to see, tells
them more. Receipt attempts that reach Argon2id are limited per user with the daily-keyed
pseudonyms of :mod:`handlers.flood` (memory only, I2).

Every sentence comes from the catalogue (handlers/i18n.py); messages are plain text; nothing the
reporter sends and no identifier is logged, only event names and counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Protocol

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.logs import event, get_logger
from crypto import Busy, MalformedReceipt, Receipt, ReceiptTypo, parse_receipt
from handlers.chat import (
    Context,
    Handler,
    acknowledge,
    answer_stale,
    chat_conversation,
    keyboard,
    take_from_user_data,
    user_language,
)
from handlers.draft import Draft
from handlers.flood import FloodLimiter
from handlers.i18n import N_, Refused, Translate, isolate, translator
from handlers.idle import IdleEndingConversation, watch_idle
from handlers.ports import HousekeepingPort
from handlers.report_flow import CONVERSATION_NAME as REPORT_CONVERSATION
from handlers.report_flow import DRAFT_KEY as REPORT_DRAFT_KEY
from handlers.report_flow import ReportFlowSettings
from handlers.text_input import clean_text, too_long
from storage.models import ReportStatus

_log = get_logger("status_flow")

SESSION_KEY = "status_session"
# Receipts that reach Argon2id, per user and minute: a reporter needs one or two; a flood of
# guesses would otherwise keep the pool busy for everyone.
RECEIPT_ATTEMPTS_PER_MINUTE = 5
# PTB's default handler group, where both reporter conversations live.
DEFAULT_GROUP = 0
_PREFIX = "status"
ADD = f"{_PREFIX}:add"
SEND = f"{_PREFIX}:send"
ERASE = f"{_PREFIX}:erase"
# Every button this flow sends, live or not; a stale one is answered here, never by another flow.
OWN_BUTTONS = re.compile(rf"^{_PREFIX}:")
SEND_BUTTON = (N_("Send"), SEND)

STATE_NAMES = {
    ReportStatus.RECEIVED: N_("Received, waiting for a caseworker"),
    ReportStatus.ASSIGNED: N_("Assigned to a caseworker"),
    ReportStatus.IN_PROGRESS: N_("A caseworker is working on it"),
    ReportStatus.CLOSED: N_("Closed"),
}


class Step(Enum):
    """States of the status conversation."""

    RECEIPT = "receipt"
    MAILBOX = "mailbox"
    ADDING = "adding"


class CaseView(Protocol):
    """What a receipt opened, as the service returns it (``bot.services.mailbox.MailboxView``)."""

    @property
    def state(self) -> ReportStatus: ...

    @property
    def replies(self) -> list[str]: ...

    @property
    def access(self) -> object: ...


class MailboxPort(Protocol):
    """The mailbox service, seen from the conversation: no keys, ciphertext or SQL."""

    async def look_up(self, receipt: Receipt) -> CaseView | None:
        """The case ``receipt`` opens, or None; raises ``crypto.Busy`` when the pool is full."""
        ...

    async def add_information(self, access: Any, draft: Draft) -> int:
        """Seal and commit the draft's text and files as an addendum; return its number."""
        ...

    async def discard_information(self, draft: Draft) -> None:
        """The same work as :meth:`add_information` for a receipt that opens nothing."""
        ...


@dataclass(eq=False)
class StatusSession:
    """One /status conversation: its messages and addition (a Draft) and what the receipt opened.

    ``access`` is the service's opaque handle; it is dropped, and the draft wiped, at the end.
    """

    draft: Draft
    access: object | None = field(default=None, repr=False)

    def end(self) -> Draft:
        """Forget the access; return the draft, whose addition and messages the caller erases."""
        self.access = None
        return self.draft


def _session(context: Context) -> StatusSession | None:
    found = context.user_data.get(SESSION_KEY) if context.user_data is not None else None
    return found if isinstance(found, StatusSession) else None


class StatusFlow:
    """The callbacks of the conversation, with the report flow's settings (texts and files are
    limited alike) and a :class:`~handlers.chat.ConversationChat` of its own."""

    def __init__(
        self,
        mailbox: MailboxPort,
        settings: ReportFlowSettings,
        housekeeping: HousekeepingPort,
        *,
        receipt_attempts_per_minute: int = RECEIPT_ATTEMPTS_PER_MINUTE,
    ) -> None:
        self.mailbox = mailbox
        self.settings = settings
        self.chat = settings.conversation_chat(housekeeping)
        self.receipt_attempts = FloodLimiter(receipt_attempts_per_minute)

    async def hand_over(self, application: Application[Any, Context, Any, Any, Any, Any]) -> int:
        """Give open /status conversations (the typed receipt among them) to housekeeping (I7).

        For a stopping process, as :meth:`handlers.report_flow.ReportFlow.hand_over`.
        """
        handed = await self.chat.hand_over(
            application,
            SESSION_KEY,
            lambda state: state.end() if isinstance(state, StatusSession) else None,
        )
        event(_log, "status_handover", conversations=handed)
        return handed

    def _t(self, session: StatusSession) -> Translate:
        return translator(session.draft.language)

    def _language_of(self, update: object) -> str:
        return user_language(update, self.settings.languages)

    def _keyboard(self, session: StatusSession, *rows: tuple[str, str]) -> InlineKeyboardMarkup:
        _ = self._t(session)
        buttons = [[(_(label), data)] for label, data in rows]
        return keyboard([*buttons, [(_("Erase this conversation"), ERASE)]])

    async def _say(
        self,
        context: Context,
        session: StatusSession,
        text: str,
        *buttons: tuple[str, str],
        replacing: Message | None = None,
    ) -> None:
        """Show ``text`` with ``buttons`` and Erase, in place of ``replacing`` if given."""
        markup = self._keyboard(session, *buttons)
        await self.chat.say(context, session.draft, text, markup, replacing=replacing)

    def _require(self, context: Context) -> StatusSession:
        session = _session(context)
        if session is None:
            raise LookupError("the status conversation has no session")
        return session

    # -- entry and receipt ------------------------------------------------------------------

    async def start(self, update: Update, context: Context) -> Step | int:
        """Opens a session and asks for the receipt."""
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None or context.user_data is None:
            raise LookupError("/status without a chat")
        language = self._language_of(update)
        report = context.user_data.get(REPORT_DRAFT_KEY)
        if isinstance(report, Draft):
            _ = translator(language)
            text = _("Please finish or erase the report you are writing first; /forget erases it.")
            await self.chat.say(context, report, text)  # erased with the report (I7)
            return ConversationHandler.END
        old = _session(context)
        if old is not None:  # /status again: the earlier session goes, this command stays
            await self.chat.close(None, context, old.end())
        session = StatusSession(Draft(language=language, chat_id=chat.id))
        context.user_data[SESSION_KEY] = session
        await self.chat.remember(context, session.draft, message.message_id)
        event(_log, "status.started")
        _ = self._t(session)
        await self._say(
            context,
            session,
            _(
                "Please send your receipt: the 28 digits you received when you submitted your "
                "report. Spaces and dashes do not matter."
            ),
        )
        return Step.RECEIPT

    async def receipt(self, update: Update, context: Context) -> Step | None:
        """Checks the receipt and shows the case, or says what is wrong with it."""
        session = self._require(context)
        await self.chat.remember_incoming(update, context, session.draft)
        _ = self._t(session)
        message = update.effective_message
        try:
            receipt = parse_receipt(message.text or "" if message is not None else "")
        except ReceiptTypo:
            event(_log, "status.receipt_typo")
            await self._say(
                context,
                session,
                _(
                    "This receipt has a typo: a digit is wrong or two digits are swapped. Please "
                    "check it and send it again."
                ),
            )
            return None
        except MalformedReceipt:
            event(_log, "status.receipt_malformed")
            await self._say(
                context,
                session,
                _("A receipt is 28 digits, which may be grouped with spaces or dashes."),
            )
            return None
        user = update.effective_user
        if user is not None and not self.receipt_attempts.check(user.id).allowed:
            event(_log, "status.receipt_limited")
            await self._say(
                context,
                session,
                _("You have tried too many receipts. Please wait a minute, then try again."),
            )
            return None
        try:
            view = await self.mailbox.look_up(receipt)
        except Busy:
            event(_log, "status.busy")
            await self._say(context, session, _("The bot is busy. Please try again in a minute."))
            return None
        if _session(context) is not session:  # erased while the receipt was being checked
            return None
        session.access = view.access if view is not None else None
        await self._show(context, session, view)
        return Step.MAILBOX

    async def _show(self, context: Context, session: StatusSession, view: CaseView | None) -> None:
        """The case as its holder sees it; a receipt that opens nothing looks like a new case."""
        _ = self._t(session)
        state = view.state if view is not None else ReportStatus.RECEIVED
        replies = view.replies if view is not None else []
        lines = [_("Status of your report: {state}").format(state=_(STATE_NAMES[state])), ""]
        if replies:
            lines.append(_("Replies from your caseworker:"))
            # Isolated: a caseworker's Latin text must not reorder an Arabic message around it.
            lines += [
                f"\n{number}. {isolate(reply)}" for number, reply in enumerate(replies, start=1)
            ]
        else:
            lines.append(_("No replies yet."))
        await self._say(context, session, "\n".join(lines), (N_("Add information"), ADD))

    # -- adding information -----------------------------------------------------------------

    async def ask_addition(self, update: Update, context: Context) -> Step:
        """Asks for the text and files to add."""
        session = self._require(context)
        pressed = await acknowledge(update.callback_query)
        _ = self._t(session)
        await self._say(
            context,
            session,
            _(
                "Send what you want to add: text, photos, screenshots, PDF documents or voice "
                "notes. Hidden details in files are removed. Press Send when you have finished."
            ),
            SEND_BUTTON,
            replacing=pressed,
        )
        return Step.ADDING

    async def add_text(self, update: Update, context: Context) -> None:
        """Adds a cleaned text message to the addition; the state does not change."""
        session = self._require(context)
        await self.chat.remember_incoming(update, context, session.draft)
        _ = self._t(session)
        message = update.effective_message
        draft = session.draft
        earlier = draft.what_happened or ""
        limit = self.settings.max_text_chars
        result = clean_text(message.text or "" if message is not None else "", max_chars=limit)
        if not isinstance(result, Refused) and earlier:
            combined = f"{earlier}\n\n{result.text}"
            # The whole addition is held to the limit, not each message of it.
            result = too_long(limit, len(combined)) if len(combined) > limit else replace(
                result, text=combined
            )
        if isinstance(result, Refused):
            await self._say(context, session, result.notice.render(_), SEND_BUTTON)
            return
        draft.what_happened = result.text
        lines = [result.notice.render(_)] if result.notice is not None else []
        lines.append(_("Added. Send more, or press Send."))
        await self._say(context, session, "\n".join(lines), SEND_BUTTON)

    async def add_file(self, update: Update, context: Context) -> None:
        """Checks and cleans a file as the report flow does and adds it; the state stays."""
        session = self._require(context)
        await self.chat.remember_incoming(update, context, session.draft)
        message = update.effective_message
        if message is None:
            return
        result = await self.chat.take_evidence(
            context,
            session.draft,
            message,
            # Erased while the file was being cleaned: nothing is added or said.
            still_open=lambda: _session(context) is session,
        )
        if result is None:
            return
        _ = self._t(session)
        if isinstance(result, Refused):
            await self._say(context, session, result.notice.render(_), SEND_BUTTON)
            return
        count = len(session.draft.attachments)
        text = _("File added. Files added so far: {count}.").format(count=count)
        await self._say(context, session, text, SEND_BUTTON)

    async def send(self, update: Update, context: Context) -> Step | int:
        """Seals and stores the addition, then erases the whole conversation."""
        session = self._require(context)
        _ = self._t(session)
        draft = session.draft
        if draft.what_happened is None and not draft.attachments:
            nothing = _("Please send some text or a file first.")
            pressed = await acknowledge(update.callback_query, nothing)
            await self._say(context, session, nothing, SEND_BUTTON, replacing=pressed)
            return Step.ADDING
        # The press is answered once, below, with what happened: a second answer is refused.
        query = update.callback_query
        pressed = query.message if query and isinstance(query.message, Message) else None
        try:
            if session.access is None:
                # No oracle: an unknown receipt's addition costs and reads like a stored one.
                await self.mailbox.discard_information(draft)
            else:
                await self.mailbox.add_information(session.access, draft)
        except Busy:
            await acknowledge(query)
            await self._say(
                context,
                session,
                _("The bot is busy. Please press Send again in a minute."),
                SEND_BUTTON,
                replacing=pressed,
            )
            return Step.ADDING
        except Exception as exc:  # the addition must survive whatever the service raised (I8)
            event(_log, "status.addition_failed", unknown=int(isinstance(exc, LookupError)))
            await acknowledge(query)
            await self._say(
                context,
                session,
                _(
                    "Your information could not be added. Please check your receipt; if it is "
                    "right, press Send again in a moment."
                ),
                SEND_BUTTON,
                replacing=pressed,
            )
            return Step.ADDING
        event(_log, "status.addition_stored", files=len(draft.attachments))
        if update.callback_query is not None:
            try:
                await update.callback_query.answer(
                    _("Your information has been added. This conversation has been deleted.")
                )
            except TelegramError:
                event(_log, "status.acknowledge_failed")
        return await self._end(update, context, "added")

    # -- leaving ----------------------------------------------------------------------------

    async def _end(self, update: object, context: Context, reason: str) -> int:
        """Drop what the receipt opened, wipe the addition, erase every message."""
        session = take_from_user_data(update, context, SESSION_KEY)
        draft = session.end() if isinstance(session, StatusSession) else None
        erased = await self.chat.close(update, context, draft)
        event(_log, f"status.ended.{reason}", messages=erased)
        return ConversationHandler.END

    async def erase(self, update: Update, context: Context) -> int:
        """Erases the conversation (Erase button)."""
        session = _session(context)
        language = session.draft.language if session is not None else self._language_of(update)
        _ = translator(language)
        if update.callback_query is not None:
            try:
                await update.callback_query.answer(_("This conversation has been deleted."))
            except TelegramError:
                event(_log, "status.acknowledge_failed")
        return await self._end(update, context, "erased")

    async def forget(self, update: Update, context: Context) -> int:
        """Erases the conversation (/forget)."""
        return await self._end(update, context, "forgotten")

    async def timed_out(self, update: object, context: Context) -> int:
        """Erases the conversation after the idle timeout."""
        return await self._end(update, context, "timeout")

    async def other_command(self, update: Update, context: Context) -> None:
        """Refuses another command in the middle; the state does not change."""
        session = self._require(context)
        await self.chat.remember_incoming(update, context, session.draft)
        _ = self._t(session)
        await self._say(
            context,
            session,
            _("Finish here first, or erase this conversation; /forget works at any time."),
        )

    async def stale(self, update: Update, context: Context) -> None:
        """Refuses a button of this flow that is not live; the state does not change."""
        session = _session(context)
        language = session.draft.language if session is not None else self._language_of(update)
        await answer_stale(update, language)

    async def stale_outside(self, update: Update, context: Context) -> int:
        """Refuses a button of a /status conversation that has ended."""
        await self.stale(update, context)
        return ConversationHandler.END

    async def unexpected(self, update: Update, context: Context) -> None:
        """Answers a message this step does not take; the state does not change."""
        session = self._require(context)
        await self.chat.remember_incoming(update, context, session.draft)
        _ = self._t(session)
        await self._say(context, session, _("Please use the buttons above."))

    # -- wiring -----------------------------------------------------------------------------

    def conversation(self) -> IdleEndingConversation:
        """The ConversationHandler of /status (see the module docstring)."""
        message = filters.UpdateType.MESSAGE
        text = message & filters.TEXT & ~filters.COMMAND
        files = message & (filters.PHOTO | filters.Document.ALL | filters.VOICE | filters.AUDIO)
        erase: Handler = CallbackQueryHandler(self.erase, pattern=f"^{ERASE}$")
        states: dict[object, list[Handler]] = {
            Step.RECEIPT: [MessageHandler(text, self.receipt)],
            Step.MAILBOX: [CallbackQueryHandler(self.ask_addition, pattern=f"^{ADD}$")],
            Step.ADDING: [
                MessageHandler(text, self.add_text),
                MessageHandler(files, self.add_file),
                CallbackQueryHandler(self.send, pattern=f"^{SEND}$"),
            ],
        }
        private = filters.ChatType.PRIVATE
        return chat_conversation(
            name="status",
            entry_points=[
                CommandHandler("status", self.start, filters=private),
                CallbackQueryHandler(self.stale_outside, pattern=OWN_BUTTONS),
            ],
            states=states,
            fallbacks=[
                CommandHandler("forget", self.forget),
                CommandHandler("status", self.start),
                erase,
                CallbackQueryHandler(self.stale, pattern=OWN_BUTTONS),
                MessageHandler(message & filters.COMMAND, self.other_command),
                MessageHandler(message, self.unexpected),
            ],
            timeout=self.settings.conversation_timeout,
            on_idle=self.timed_out,
        )


def build_status_handler(
    mailbox: MailboxPort, settings: ReportFlowSettings, housekeeping: HousekeepingPort
) -> IdleEndingConversation:
    """The /status ConversationHandler alone (use :func:`install_status_flow` in the bot)."""
    return StatusFlow(mailbox, settings, housekeeping).conversation()


class InstallOrderError(RuntimeError):
    """The status flow was installed after the report flow (see the module docstring)."""


def install_status_flow(
    application: Application[Any, Context, Any, Any, Any, Any],
    mailbox: MailboxPort,
    settings: ReportFlowSettings,
    housekeeping: HousekeepingPort,
    *,
    receipt_attempts_per_minute: int = RECEIPT_ATTEMPTS_PER_MINUTE,
) -> StatusFlow:
    """Add /status to ``application``; call it before installing the report flow.

    While a /status conversation is open, ``/forget``, ``/start`` and ``/help`` must reach it
    rather than the report flow's entry points (otherwise ``/forget`` would leave the receipt in
    the chat), so this conversation goes first in the default group. Raises
    :class:`InstallOrderError` if the report flow is already there. The report flow's flood guard
    (group -1) runs before both either way.
    """
    if any(
        isinstance(handler, ConversationHandler) and handler.name == REPORT_CONVERSATION
        for handler in application.handlers.get(DEFAULT_GROUP, [])
    ):
        raise InstallOrderError("install the status flow before the report flow")
    flow = StatusFlow(
        mailbox, settings, housekeeping, receipt_attempts_per_minute=receipt_attempts_per_minute
    )
    conversation = flow.conversation()
    application.add_handler(conversation, group=DEFAULT_GROUP)
    watch_idle(application, conversation)
    return flow
