"""The erase job: delete the conversation messages the report flow had to leave behind (I7).

Every :data:`ERASE_INTERVAL_SECONDS`, and one second after start — to finish what a stopping
process handed over, and what the erase journal of a process killed outright had stored (I7) —
a run opens the stored erase targets not held by this process (:meth:`Housekeeping.due`) and calls
``deleteMessages`` once per target (at most 100 ids, Telegram's limit). What Telegram answers
decides what happens to the row:

- success (Telegram skips messages already gone): the row is deleted;
- ``BadRequest``, ``ChatMigrated``: a retry cannot help, the row is deleted;
- ``Forbidden`` (the reporter blocked the bot; they may unblock it) and ``NetworkError`` (timeouts
  and 5xx included): the row stays for the next run;
- ``RetryAfter`` or ``InvalidToken``: the run stops and every row stays.

Nothing retries forever: the purge job drops every row at its deadline, erased or not, because
Telegram refuses deletions older than 48 hours anyway.

No lock is taken. A run reads targets in one short transaction, calls Telegram outside any, and
deletes erased rows after; two processes sharing the keys that both erase one target only ask
Telegram twice to delete the same messages, which it answers with success. Holding a database
lock across Telegram calls would instead stall every reporter's submission on SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CallbackContext

from bot.jobs import job_queue_of
from bot.logs import event, get_logger
from bot.services.housekeeping import Housekeeping

JOB_NAME = "erase"
ERASE_INTERVAL_SECONDS = 60.0
#: How many targets one read takes; a run reads again until none is left.
BATCH = 50

_log = get_logger("erase")

KeepGoing = Callable[[], bool]


@dataclass
class EraseCounts:
    """What one run did, for the log line (counts only, never which chat)."""

    erased: int = 0
    retrying: int = 0
    dropped: int = 0


class Eraser:
    """Carries out stored erasures through one bot."""

    def __init__(self, housekeeping: Housekeeping, bot: Bot, *, batch: int = BATCH) -> None:
        if batch < 1:
            raise ValueError("the erase batch must hold at least one target")
        self._housekeeping = housekeeping
        self._bot = bot
        self._batch = batch

    async def run(self, keep_going: KeepGoing = lambda: True) -> EraseCounts:
        """Erase every stored target this process can open; return what happened.

        ``keep_going`` is checked before each call to Telegram; rows not reached stay stored.
        """
        counts = EraseCounts()
        after = 0
        while keep_going():
            due, damaged = await self._housekeeping.due(self._batch, after=after)
            counts.dropped += damaged
            if not due:
                break
            done: list[int] = []
            try:
                for item in due:
                    if not keep_going():
                        return counts
                    after = item.row_id
                    target = item.target
                    try:
                        await self._bot.delete_messages(target.chat_id, list(target.message_ids))
                    except (RetryAfter, InvalidToken):
                        counts.retrying += 1
                        return counts
                    except (BadRequest, ChatMigrated):
                        counts.dropped += 1
                    # Forbidden, NetworkError (TimedOut and 5xx included): maybe next time.
                    except TelegramError:
                        counts.retrying += 1
                        continue
                    else:
                        counts.erased += 1
                    done.append(item.row_id)
            finally:
                await self._housekeeping.forget(done)
        return counts


def schedule_erase_job(
    application: Application[Any, Any, Any, Any, Any, Any], eraser: Eraser
) -> None:
    """Run ``eraser`` from the application's JobQueue every :data:`ERASE_INTERVAL_SECONDS`."""
    job_queue = job_queue_of(application, JOB_NAME)

    async def erase(context: CallbackContext[Any, Any, Any, Any]) -> None:
        running = context.application
        try:
            counts = await eraser.run(keep_going=lambda: running.running)
        except Exception:  # the job must outlive a bad run: the next one tries again
            event(_log, "erase.run_failed", logging.WARNING)
            return
        if counts.erased or counts.retrying or counts.dropped:
            event(
                _log,
                "erase.run",
                erased=counts.erased,
                retrying=counts.retrying,
                dropped=counts.dropped,
            )

    job_queue.run_repeating(erase, interval=ERASE_INTERVAL_SECONDS, first=1.0, name=JOB_NAME)


def register_erase_job(
    application: Application[Any, Any, Any, Any, Any, Any], housekeeping: Housekeeping
) -> Eraser:
    """Erase stored targets from ``application``'s bot; for :mod:`bot.app`."""
    eraser = Eraser(housekeeping, application.bot)
    schedule_erase_job(application, eraser)
    return eraser
