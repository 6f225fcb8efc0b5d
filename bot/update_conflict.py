"""Another process polling with this bot's token: said once, clearly, not every few seconds.

Telegram lets one ``getUpdates`` run per token: a second poller ends the first's with 409
Conflict, and each answers the other the same way, for as long as both run. PTB passes each
such error to the application's error handlers, where it would be logged as a handler error
every few seconds, under the reporter flow's logger. SQLite deployments refuse a second process
at start (``bot.instance_lock``); on PostgreSQL, or with the same token on two databases, this
handler logs the event ``telegram.another_process_receiving_updates`` once per process and
keeps the other error handlers out of it. The event carries no identifier.
"""

from __future__ import annotations

import logging

from telegram.error import Conflict
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot.logs import event, get_logger

_log = get_logger("runtime")
CONFLICT_EVENT = "telegram.another_process_receiving_updates"


def register_conflict_notice(application: Application) -> None:  # type: ignore[type-arg]
    """Add the handler first, so that a polling Conflict reaches no other error handler."""
    told = False

    async def on_conflict(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Logs the first polling Conflict and swallows it and every later one."""
        nonlocal told
        if update is not None or not isinstance(context.error, Conflict):
            return
        if not told:
            told = True
            event(_log, CONFLICT_EVENT, logging.ERROR)
        raise ApplicationHandlerStop

    application.add_error_handler(on_conflict)
