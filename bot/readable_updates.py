"""Polling that survives a malformed answer: unreadable updates are skipped and counted.

python-telegram-bot reads a ``getUpdates`` answer as one batch. One update it cannot parse (a
message without a chat, a field of the wrong type) fails the whole batch; the Updater logs it
and asks again from the same offset, gets the same batch, and the bot is stuck on it for good,
answering no one (I8: no one user's action stalls the others). And the library's own log line
for an answer that is not JSON quotes the answer, reporters' words included (I1).

:class:`ReadableUpdatesRequest` is the connection PTB uses for ``getUpdates`` only. It reads the
answer itself: JSON that does not parse is refused with PTB's own error (the Updater retries, with
its back-off) and a count, never a quote; an update that lacks what handlers read (a chat, a
date, a sender) is replaced by its bare ``update_id`` — an update no handler takes, which still
moves the offset past it — and counted. Other shapes only PTB's parser refuses (a field of the
wrong type deep inside) fail one poll: the batch comes again, and is then parsed update by update
here (one parse per update in the normal case, where it matters: the bench measured the second
parse at about 3% of the bot's event loop).
"""

from __future__ import annotations

import json
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from bot.logs import event, get_logger

_log = get_logger("updates")


# Update fields that carry a Message, whose chat and date every handler may read.
_MESSAGE_FIELDS = ("message", "edited_message", "channel_post", "edited_channel_post",
                   "business_message", "edited_business_message")


def readable_updates(raw: object, *, parse: bool) -> tuple[list[dict[str, Any]], list[int | None]]:
    """The updates of a ``getUpdates`` result as PTB can read them, and the ids of those that
    were not (None for one without an id).

    Each update is checked for the fields handlers rely on (:func:`_complete`); with ``parse``,
    it is also parsed by PTB, which catches every shape its parser refuses, at the cost of a
    second parse. An unreadable update with an integer ``update_id`` is kept as
    ``{"update_id": N}`` so the next poll confirms it; one without is dropped (Telegram numbers
    every update, so a later one confirms it anyway).
    """
    if not isinstance(raw, list):
        return [], [None]
    kept: list[dict[str, Any]] = []
    skipped: list[int | None] = []
    for item in raw:
        update_id = item.get("update_id") if isinstance(item, dict) else None
        if not _is_integer(update_id):
            skipped.append(None)
            continue
        readable = parsed_update(item, None) is not None if parse else _complete(item)
        if readable:
            kept.append(item)
        else:
            skipped.append(update_id)
            kept.append({"update_id": update_id})
    return kept, skipped


def parsed_update(item: object, bot: Bot | None) -> Update | None:
    """``item`` as PTB reads an update for ``bot``, or None when it is unreadable: not an
    object, no integer ``update_id``, a field handlers rely on missing (:func:`_complete`), or a
    shape PTB's parser refuses. ``item`` is left as it was (PTB copies what it parses)."""
    if not isinstance(item, dict) or not _is_integer(item.get("update_id")):
        return None
    if not _complete(item):
        return None
    try:
        return Update.de_json(item, bot)
    except Exception:  # any failure of the library's parser means "unreadable"
        return None


def _complete(update: dict[str, Any]) -> bool:
    """Whether the fields Telegram always sends, and handlers rely on, are there.

    PTB's parser lets a missing chat, date or sender through as ``None``; a filter that reads
    ``message.chat.type`` would then fail on every handler the update meets.
    """
    for name in _MESSAGE_FIELDS:
        if name in update and update[name] is not None and not _is_message(update[name]):
            return False
    query = update.get("callback_query")
    if query is not None:
        if not isinstance(query, dict) or not isinstance(query.get("id"), str):
            return False
        if not _is_user(query.get("from")):
            return False
        if query.get("message") is not None and not _is_message(query["message"]):
            return False
    return True


def _is_message(message: object) -> bool:
    if not isinstance(message, dict):
        return False
    chat, date = message.get("chat"), message.get("date")
    if not isinstance(chat, dict) or not _is_integer(chat.get("id")) or not _is_integer(date):
        return False
    return "from" not in message or _is_user(message["from"])


def _is_user(user: object) -> bool:
    return isinstance(user, dict) and _is_integer(user.get("id"))


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ReadableUpdatesRequest(HTTPXRequest):
    """The ``getUpdates`` connection: answers read with :func:`readable_updates`, failures counted.

    Install it with ``ApplicationBuilder().get_updates_request(ReadableUpdatesRequest())``.
    """

    def __init__(self) -> None:
        super().__init__(connection_pool_size=1)  # what PTB gives getUpdates by default
        self.unreadable_answers = 0
        self.unreadable_updates = 0
        self._last_first_id: int | None = None
        self._counted: set[int] = set()  # unreadable ids of the last batch, counted once

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
            result = answer.get("result")
            # The same batch again means PTB could not parse it last time (it asks again from
            # the same offset): only then is each update parsed here too, so a sound batch is
            # parsed once.
            first = _first_update_id(result)
            repeated = first is not None and first == self._last_first_id
            self._last_first_id = first
            answer["result"], unreadable = readable_updates(result, parse=repeated)
            # A batch that comes again after PTB refused it holds updates counted last time.
            skipped = len([u for u in unreadable if u is None or u not in self._counted])
            self._counted = {u for u in unreadable if u is not None}
            if skipped:
                self.unreadable_updates += skipped
                event(_log, "updates.unreadable", skipped=skipped, total=self.unreadable_updates)
        return answer


def _first_update_id(result: object) -> int | None:
    if isinstance(result, list) and result and isinstance(result[0], dict):
        first = result[0].get("update_id")
        return first if _is_integer(first) else None
    return None
