"""The update gate: no update is handled unless this process leads and none handled it before.

First of all handlers (:data:`UPDATE_GATE_GROUP`): each update is taken through the process's
role (:meth:`bot.leadership.fence.Role.take_update`). On PostgreSQL that records its
``update_id`` under the leader's epoch, in one transaction (``storage.leadership``): Telegram
hands updates it has not seen confirmed to whoever polls next, so after a takeover the new
leader may get again what the dead one had taken, and skips it here; and an instance that lost
its leadership takes nothing more, at once. A process alone with its database takes every update.

A skipped update is counted (``update.skipped``), never logged with anything it carries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, CallbackContext, TypeHandler

from bot.leadership.fence import Role
from bot.logs import event, get_logger

#: Before every other handler group (the lost-draft notice is -3, the health counter -2).
UPDATE_GATE_GROUP = -4

_log = get_logger("updates")


def register_update_gate(
    application: Application[Any, Any, Any, Any, Any, Any],
    role: Role,
    *,
    on_skipped: Callable[[Update], object] = lambda _update: None,
) -> None:
    """Add the gate to ``application``; for :mod:`bot.app`.

    ``on_skipped`` gets each update stopped here: the bot records its message for erasure (I7),
    since the leader that took it may have died before it did.
    """

    async def gate(update: Update, _context: CallbackContext[Any, Any, Any, Any]) -> None:
        """Lets the update through once, on the leader; stops it anywhere else."""
        if not await role.take_update(update.update_id):
            on_skipped(update)
            event(_log, "update.skipped")
            raise ApplicationHandlerStop

    application.add_handler(TypeHandler(Update, gate), group=UPDATE_GATE_GROUP)
