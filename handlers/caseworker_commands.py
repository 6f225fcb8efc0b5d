"""Caseworker commands in Telegram: ``/enroll CODE``, ``/cases``, ``/close CASE`` (DESIGN.md §9).

These are single commands, not a conversation: each is answered at once and keeps no state.

- ``/enroll CODE`` — a caseworker pastes the enrolment code ``sanad caseworker init`` printed on
  their own machine. The bot records the key as pending with a claim, signed by the bot, that
  this chat sent it, and answers with the fingerprint *it* computed from the code and the
  claim's 8-digit confirmation code. The caseworker compares the fingerprint with the one their
  machine printed and reads both aloud to an admin, who types the code into
  ``sanad admin approve --confirm`` (I4: the fingerprint keeps an adversary's key out; I9: the
  code binds the certificate to this chat and not to a chat the code was pasted into). Every
  ``/enroll`` gets a new code, from any chat. The message carrying the code is deleted from the chat
  first, whatever the outcome, so a seized phone does not hand over the caseworker's public keys
  and label together with their Telegram account. Sending /enroll is limited per user
  (:class:`~handlers.flood.FloodLimiter`), and the service bounds the claims a chat, a key and
  the whole deployment can hold; a /enroll past one of them gets the :class:`EnrolmentLimit`
  answer.
- ``/cases`` — a verified caseworker's open case references and states, in the chat their
  certificate names; anyone else gets the same one-line refusal, which says nothing about
  whether they ever enrolled.
- ``/close CASE`` — the assigned caseworker closes one of their cases.

Commands work in private chats only: a group must never become a delivery chat. ``handlers``
sees no keys or SQL: everything goes through a :class:`CaseworkerDesk`, which ``bot/services``
implements. Texts here are for caseworkers and are English only; all of them sit in
:class:`_Text`. The one exception is the answer to a /enroll refused by a bound
(:class:`EnrolmentLimit`): a flood of fake profiles reaches it before any admin has met the
sender, and a real caseworker who meets it must understand what to do, so it comes from the
catalogue in the sender's Telegram language. Labels and references are sent as plain text (no
parse mode), so nothing a caseworker typed can turn into markup.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Final, Protocol

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from handlers.chat import delete_in_clear, user_language
from handlers.flood import FloodLimiter
from handlers.i18n import LANGUAGES, N_, translator

Context = ContextTypes.DEFAULT_TYPE

# A caseworker enrols a handful of times in their life; more than this in a minute is a script.
ENROLL_PER_MINUTE: Final = 3


class DeskRefusal(Exception):
    """The desk refused the command; the message is a sentence for the caseworker."""


class EnrolmentLimit(enum.Enum):
    """Which bound on enrolment claims refused a /enroll; the value is the answer (a catalogue
    message id). ``bot.services.caseworkers`` keeps the bounds (docs/admins.md, "Bounds on
    enrolment")."""

    CHAT = N_(
        "Too many enrolments from this chat are waiting for approval. Send a code you already "
        "sent to get a new confirmation code for it, or ask an administrator."
    )
    KEY = N_(
        "This enrolment code has already been sent from too many chats, so it cannot be used "
        "from another one. Make a new key with sanad caseworker init and tell an administrator."
    )
    FULL = N_(
        "Too many enrolments are waiting for approval, so no new one is taken now. Ask an "
        "administrator. Enrolments that are not approved expire after two weeks."
    )


class EnrolmentLimited(DeskRefusal):
    """A bound on enrolment claims refused this /enroll; ``limit`` says which."""

    def __init__(self, limit: EnrolmentLimit) -> None:
        super().__init__(limit.name)
        self.limit = limit


class EnrolmentView(Protocol):
    """What ``/enroll`` shows back: the stored label, the fingerprint the bot computed and the
    confirmation code of this chat's claim (``1234 5678``)."""

    @property
    def label(self) -> str: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def confirmation_code(self) -> str: ...

    @property
    def replaces_id(self) -> int | None: ...


class CaseView(Protocol):
    """One open case as ``/cases`` lists it."""

    @property
    def case_reference(self) -> str: ...

    @property
    def status(self) -> str: ...


class CaseworkerDesk(Protocol):
    """What the caseworker commands need from the bot (``bot.services.caseworkers`` has one).

    Every method raises :class:`DeskRefusal` for a refusal the caseworker should read.
    """

    async def enroll(self, code: str, chat_id: int) -> EnrolmentView:
        """Record that ``chat_id`` sent the key in ``code``; return its new confirmation code.

        Raises :class:`EnrolmentLimited` when a bound on enrolment claims refuses it."""
        ...

    async def open_cases(self, chat_id: int) -> Sequence[CaseView] | None:
        """The open cases of the verified caseworker of ``chat_id``; None if there is none."""
        ...

    async def close(self, chat_id: int, case_reference: str) -> str:
        """Close the case; returns its canonical reference."""
        ...


class _Text:
    """Every sentence the caseworker commands send (English only: caseworkers, not reporters)."""

    ENROLL_USAGE = (
        "Send /enroll followed by the enrolment code that `sanad caseworker init` printed "
        "on your computer."
    )
    ENROLL_TOO_OFTEN = "Too many enrolment attempts. Wait a minute, then send the code again."
    ENROLL_REFUSED = "Enrolment refused: {reason}."
    ENROLLED = (
        "Enrolment received for {label}.\n"
        "Fingerprint: {fingerprint}\n"
        "Confirmation code: {code}\n"
        "Check that the fingerprint is exactly the one your computer printed, then read both "
        "the fingerprint and the confirmation code aloud to an administrator, who will approve "
        "your key for this chat. Until then no report is sent to you. Each /enroll gives a new "
        "code; read out the latest one."
    )
    ROTATION = "This key will replace your earlier key once an administrator approves it."
    CODE_DELETED_FAILED = "Delete your /enroll message from this chat yourself."
    NOT_A_CASEWORKER = "This command is for verified caseworkers."
    NO_CASES = "You have no open cases."
    CASES_HEADER = "Your open cases:"
    CASE_LINE = "{reference}  {status}"
    CLOSE_USAGE = "Send /close followed by the case reference, for example /close K7Q-4M2P."
    CLOSED = "Case {reference} is closed."
    CLOSE_REFUSED = "Not closed: {reason}."


class CaseworkerCommands:
    """The three commands, bound to a desk; :func:`install_caseworker_commands` adds them."""

    def __init__(self, desk: CaseworkerDesk, *, flood: FloodLimiter | None = None) -> None:
        self._desk = desk
        self._flood = flood or FloodLimiter(ENROLL_PER_MINUTE)

    def handlers(self) -> list[CommandHandler[Context, None]]:
        private = filters.ChatType.PRIVATE
        return [
            CommandHandler("enroll", self.enroll, filters=private),
            CommandHandler("cases", self.cases, filters=private),
            CommandHandler("close", self.close, filters=private),
        ]

    async def enroll(self, update: Update, context: Context) -> None:
        """Deletes the code message, records this chat's claim and answers with the fingerprint
        and the confirmation code."""
        message, chat = update.effective_message, update.effective_chat
        user = update.effective_user
        if message is None or chat is None or user is None:
            return
        deleted = await delete_in_clear(message)
        verdict = self._flood.check(user.id)
        if not verdict.allowed:
            if verdict.first_refusal:
                await _send(context, chat.id, _Text.ENROLL_TOO_OFTEN)
            return
        code = " ".join(context.args or [])
        if not code:
            await _send(context, chat.id, _Text.ENROLL_USAGE)
            return
        try:
            enrolment = await self._desk.enroll(code, chat.id)
        except EnrolmentLimited as exc:
            translate = translator(user_language(update, LANGUAGES))
            await _send(context, chat.id, translate(exc.limit.value))
            return
        except DeskRefusal as exc:
            await _send(context, chat.id, _Text.ENROLL_REFUSED.format(reason=_sentence(exc)))
            return
        lines = [
            _Text.ENROLLED.format(
                label=enrolment.label,
                fingerprint=enrolment.fingerprint,
                code=enrolment.confirmation_code,
            )
        ]
        if enrolment.replaces_id is not None:
            lines.append(_Text.ROTATION)
        if not deleted:
            lines.append(_Text.CODE_DELETED_FAILED)
        await _send(context, chat.id, "\n\n".join(lines))

    async def cases(self, update: Update, context: Context) -> None:
        """Lists the caseworker's open cases, or refuses someone who is not a verified one."""
        chat = update.effective_chat
        if chat is None:
            return
        cases = await self._desk.open_cases(chat.id)
        if cases is None:
            text = _Text.NOT_A_CASEWORKER
        elif not cases:
            text = _Text.NO_CASES
        else:
            lines = [
                _Text.CASE_LINE.format(reference=case.case_reference, status=str(case.status))
                for case in cases
            ]
            text = "\n".join([_Text.CASES_HEADER, *lines])
        await _send(context, chat.id, text)

    async def close(self, update: Update, context: Context) -> None:
        """Closes the named case if it is one of the caseworker's open cases."""
        chat = update.effective_chat
        if chat is None:
            return
        reference = " ".join(context.args or [])
        if not reference:
            await _send(context, chat.id, _Text.CLOSE_USAGE)
            return
        try:
            closed = await self._desk.close(chat.id, reference)
        except DeskRefusal as exc:
            await _send(context, chat.id, _Text.CLOSE_REFUSED.format(reason=_sentence(exc)))
            return
        await _send(context, chat.id, _Text.CLOSED.format(reference=closed))


def install_caseworker_commands(
    application: Application[Any, Context, Any, Any, Any, Any], desk: CaseworkerDesk
) -> CaseworkerCommands:
    """Add ``/enroll``, ``/cases`` and ``/close`` to ``application``, answered by ``desk``."""
    commands = CaseworkerCommands(desk)
    application.add_handlers(commands.handlers())
    return commands


def _sentence(exc: DeskRefusal) -> str:
    """The refusal as the middle of a sentence: no final period, first letter as written."""
    return str(exc).rstrip(".") or "not possible"


async def _send(context: Context, chat_id: int, text: str) -> None:
    # A new message rather than a reply: the message being answered may have been deleted.
    await context.bot.send_message(chat_id, text)
