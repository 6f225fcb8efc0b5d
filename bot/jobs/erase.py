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

A row the erase journal stored for a conversation still open (``conversation``) that a run finds
unheld was left by a process that died (or lost its leadership) with that conversation's draft:
its chat is passed to ``on_lost_draft`` (``bot.leadership.lost_drafts``), so the reporter is told
on their next message. On PostgreSQL the job runs on the leader only (``role``), and once more
at a takeover, before any update is received.

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
from bot.leadership.fence import SINGLE_INSTANCE, Role
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

    def __init__(
        self,
        housekeeping: Housekeeping,
        bot: Bot,
        *,
        batch: int = BATCH,
        on_lost_draft: Callable[[int], object] = lambda _chat_id: None,
    ) -> None:
        if batch < 1:
            raise ValueError("the erase batch must hold at least one target")
        self._housekeeping = housekeeping
        self._bot = bot
        self._batch = batch
        self._on_lost_draft = on_lost_draft

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
                    if item.conversation:
                        self._on_lost_draft(target.chat_id)
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
    application: Application[Any, Any, Any, Any, Any, Any],
    eraser: Eraser,
    role: Role = SINGLE_INSTANCE,
) -> None:
    """Run ``eraser`` from the application's JobQueue every :data:`ERASE_INTERVAL_SECONDS`
    while ``role`` leads, and at a takeover."""
    job_queue = job_queue_of(application, JOB_NAME)

    async def erase(context: CallbackContext[Any, Any, Any, Any]) -> None:
        if not role.leading():
            return
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
    role.at_takeover(eraser.run)


def register_erase_job(
    application: Application[Any, Any, Any, Any, Any, Any],
    housekeeping: Housekeeping,
    role: Role = SINGLE_INSTANCE,
    on_lost_draft: Callable[[int], object] = lambda _chat_id: None,
) -> Eraser:
    """Erase stored targets from ``application``'s bot; for :mod:`bot.app`."""
    eraser = Eraser(housekeeping, application.bot, on_lost_draft=on_lost_draft)
    schedule_erase_job(application, eraser, role)
    return eraser
