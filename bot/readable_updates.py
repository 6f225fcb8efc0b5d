"""Polling that survives a malformed answer: unreadable updates are skipped and counted.

python-telegram-bot reads a ``getUpdates`` answer as one batch. One update it cannot parse (a
message without a chat, a field of the wrong type) fails the whole batch; the Updater logs it
and asks again from the same offset, gets the same batch, and the bot is stuck on it for good,
answering no one (I8: no one user's action stalls the others). And the library's own log line
for an answer that is not JSON quotes the answer, reporters' words included (I1).

:class:`ReadableUpdatesRequest` is the connection PTB uses for ``getUpdates`` only. It reads the
answer itself: JSON that does not parse is refused with PTB's own error (the Updater retries, with
its back-off) and a count, never a quote; an update that does not parse is replaced by its bare
``update_id`` — an update no handler takes, which still moves the offset past it — and counted.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from telegram import Chat, Update, User
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from bot.logs import event, get_logger

_log = get_logger("updates")


def readable_updates(raw: object) -> tuple[list[dict[str, Any]], int]:
    """The updates of a ``getUpdates`` result as PTB can read them, and how many were not.

    An unreadable update with an integer ``update_id`` is kept as ``{"update_id": N}`` so the
    next poll confirms it; one without is dropped (Telegram numbers every update, so a later one
    confirms it anyway).
    """
    if not isinstance(raw, list):
        return [], 1
    kept: list[dict[str, Any]] = []
    skipped = 0
    for item in raw:
        update_id = item.get("update_id") if isinstance(item, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            skipped += 1
            continue
        try:
            # PTB copies what it parses: ``item`` is left as it was for the real parse.
            readable = _complete(Update.de_json(item, None))
        except Exception:  # any failure of the library's parser means "unreadable"
            readable = False
        if readable:
            kept.append(item)
        else:
            skipped += 1
            kept.append({"update_id": update_id})
    return kept, skipped


def _complete(update: Update) -> bool:
    """Whether the fields Telegram always sends, and handlers rely on, are there.

    PTB's parser lets a missing chat, date or sender through as ``None``; a filter that reads
    ``message.chat.type`` would then fail on every handler the update meets.
    """
    message = update.effective_message
    if message is not None:
        # Typed as the library promises, checked as the server may send.
        chat: Chat | None = message.chat
        date: dt.datetime | None = message.date
        if chat is None or date is None or not isinstance(chat.id, int):
            return False
    query = update.callback_query
    if query is not None:
        sender: User | None = query.from_user
        if sender is None or not isinstance(query.id, str):
            return False
    user = update.effective_user
    return user is None or isinstance(user.id, int)


class ReadableUpdatesRequest(HTTPXRequest):
    """The ``getUpdates`` connection: answers read with :func:`readable_updates`, failures counted.

    Install it with ``ApplicationBuilder().get_updates_request(ReadableUpdatesRequest())``.
    """

    def __init__(self) -> None:
        super().__init__(connection_pool_size=1)  # what PTB gives getUpdates by default
        self.unreadable_answers = 0
        self.unreadable_updates = 0

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        """Parse one answer; raise ``TelegramError`` (without quoting it) when it is not JSON."""
        try:
            answer = json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self.unreadable_answers += 1
            event(_log, "updates.unreadable_answer", total=self.unreadable_answers)
            raise TelegramError("Invalid server response")
        if answer.get("ok") is True:
            answer["result"], skipped = readable_updates(answer.get("result"))
            if skipped:
                self.unreadable_updates += skipped
                event(_log, "updates.unreadable", skipped=skipped, total=self.unreadable_updates)
        return answer
