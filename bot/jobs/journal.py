"""The journal job: store the erase journal's waiting message ids every few seconds (I7).

:class:`bot.services.erase_journal.EraseJournal` buffers the message ids of open conversations
and of messages outside them; this job flushes the buffer every
:data:`~bot.services.erase_journal.FLUSH_SECONDS`, and at once when a chat has
:data:`~bot.services.erase_journal.FLUSH_IDS` ids waiting. A failed flush keeps the ids for the
next one. ``bot.app`` flushes once more at a clean stop.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import Application, CallbackContext

from bot.jobs import job_queue_of
from bot.logs import event, get_logger
from bot.services.erase_journal import FLUSH_SECONDS, EraseJournal

JOB_NAME = "journal"

_log = get_logger("journal")


def register_journal_job(
    application: Application[Any, Any, Any, Any, Any, Any], journal: EraseJournal
) -> None:
    """Flush ``journal`` from the application's JobQueue; for :mod:`bot.app`."""
    job_queue = job_queue_of(application, JOB_NAME)

    async def flush(_context: CallbackContext[Any, Any, Any, Any]) -> None:
        try:
            await journal.flush()
        except Exception:  # the job must outlive a failed flush: the ids wait for the next one
            event(_log, "journal.flush_failed", logging.WARNING)

    job_queue.run_repeating(flush, interval=FLUSH_SECONDS, first=FLUSH_SECONDS, name=JOB_NAME)
    journal.on_full(lambda: job_queue.run_once(flush, 0.0, name=JOB_NAME))
