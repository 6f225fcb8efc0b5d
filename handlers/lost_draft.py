"""The reporter whose unfinished report was lost is told so, once, on their next message.

A draft lives in one bot process's memory only (I1). When that process dies, or another instance
takes over from it, the draft is gone; what remains is the erase journal's sealed record of the
conversation's messages, which the next process erases (I7) — and from which it learns that this
chat had a report in progress (a :class:`LostDraftPort`). Without this notice the reporter would
press a button of a report that no longer exists and be told it is stale, not why.

The notice says the report was lost, that nothing of it was kept, and how to begin again
(``/start``); it is written in the reporter's Telegram language among those offered. It and the
reporter's message are erased a short while later, like any answer outside a conversation. A
``/start`` goes on to start the new report; anything else stops here. A reporter who has already
begun a new report in this process when the loss is learnt of is not told: they know, and the
notice would swallow a step of the new report. Nor is one who sends ``/forget``: the chat is
emptied at once, as they asked (I7), which a notice left behind would undo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from handlers.chat import Context, erase_message_later, open_draft, user_language
from handlers.i18n import N_, translator
from handlers.ports import HousekeepingPort

#: Before the health counter (-2) and the flood guard (-1), after the update gate (-4).
LOST_DRAFT_GROUP = -3

LOST_DRAFT = N_(
    "Your unfinished report was lost: the service restarted while you were writing it, and "
    "nothing of it was kept. Send /start to begin again."
)


class LostDraftPort(Protocol):
    """Which chats had a draft that died with another process (``bot.leadership.lost_drafts``)."""

    def claim(self, chat_id: int) -> bool:
        """True once for a chat whose draft was lost."""
        ...


def _command(update: Update) -> str | None:
    """``start`` for ``/start`` (or ``/start@bot``), and so on; None for anything else."""
    message = update.message
    text = (message.text or "") if message is not None else ""
    words = text[1:].split() if text.startswith("/") else []
    return words[0].split("@")[0] if words else None


def install_lost_draft_notice(
    application: Application[Any, Context, Any, Any, Any, Any],
    lost: LostDraftPort,
    housekeeping: HousekeepingPort,
    languages: Sequence[str],
) -> None:
    """Tell each reporter whose draft was lost, on their next update (see the module docstring)."""

    async def tell(update: Update, context: Context) -> None:
        """Says the report was lost and how to begin again; a /start goes on to begin it."""
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE or not lost.claim(chat.id):
            return
        if open_draft(context) is not None or _command(update) == "forget":
            # Begun again in this process before the loss was learnt of (the erase job finds
            # it up to a minute after a restart): the notice would break into the new report.
            # Or /forget: the reporter asks for an empty chat now, which the notice would not be.
            return
        _ = translator(user_language(update, languages))
        if update.callback_query is not None:
            await update.callback_query.answer()
        sent = await context.bot.send_message(chat.id, _(LOST_DRAFT))
        housekeeping.erase_later(chat.id, [sent.message_id])
        if _command(update) == "start":
            return
        erase_message_later(housekeeping, update)
        raise ApplicationHandlerStop

    application.add_handler(TypeHandler(Update, tell), group=LOST_DRAFT_GROUP)
