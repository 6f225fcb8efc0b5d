"""Updates run concurrently across chats and strictly in order within one chat.

python-telegram-bot's plain ``concurrent_updates`` runs every update as soon as it arrives, so two
updates of the same chat can overlap. A ConversationHandler records its new state only when a
callback returns: a button pressed quickly after the message that carried it, or a second message
typed while a photo is being cleaned, then meets the previous state and is refused as stale, and a
reporter can end up stuck with a draft that is never erased (I1, I7). Serialising each chat keeps
the conversation a state machine again, while a slow step of one reporter (Argon2id, cleaning a
file, a database write) never holds up another reporter's updates (I8).

Two bounds keep a flood harmless:

- at most ``max_running`` updates run at once across all chats;
- at most ``max_waiting_per_chat`` updates of one chat wait behind the one running; past that the
  update is dropped (counted, never logged with an identifier), after ``on_dropped`` has
  recorded its message for erasure (I7: a flood leaves nothing on the phone either). A person
  cannot legitimately have that many updates outstanding, and without this bound one flooding
  chat could take every admission slot of PTB's own semaphore and stall everyone else.

The chat id is a key of an in-memory dictionary only while that chat has updates in flight, as
PTB's own conversation state is; it is never written anywhere.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.logs import event, get_logger

_log = get_logger("updates")


@dataclass
class _ChatTurn:
    """The lock that orders one chat's updates, and how many of them are in flight."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    in_flight: int = 0


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, sequential within a chat, with bounded waiting."""

    def __init__(
        self,
        max_running: int,
        *,
        max_waiting_per_chat: int = 16,
        on_dropped: Callable[[object], None] = lambda _update: None,
    ) -> None:
        if max_running < 1 or max_waiting_per_chat < 1:
            raise ValueError("max_running and max_waiting_per_chat must be at least 1")
        # PTB's semaphore bounds admitted updates; waiting ones must not use up running slots.
        super().__init__(max_concurrent_updates=max_running * (max_waiting_per_chat + 1))
        self._max_running = max_running
        self._max_waiting_per_chat = max_waiting_per_chat
        self._running: asyncio.Semaphore | None = None
        self._turns: dict[int, _ChatTurn] = {}
        self._on_dropped = on_dropped

    def _running_slots(self) -> asyncio.Semaphore:
        # Created on first use, inside the event loop that runs the application.
        if self._running is None:
            self._running = asyncio.Semaphore(self._max_running)
        return self._running

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run ``coroutine`` after every earlier update of the same chat has finished."""
        key = _chat_key(update)
        if key is None:
            async with self._running_slots():
                await coroutine
            return
        turn = self._turns.setdefault(key, _ChatTurn())
        if turn.in_flight > self._max_waiting_per_chat:
            self._on_dropped(update)  # I7: recorded for erasure before it is dropped
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # never started: close it so it is not reported as un-awaited
            event(_log, "update.dropped_flood")
            return
        turn.in_flight += 1
        try:
            async with turn.lock, self._running_slots():
                await coroutine
        finally:
            turn.in_flight -= 1
            if turn.in_flight == 0:
                del self._turns[key]

    async def initialize(self) -> None:
        """Nothing to allocate: locks are made per chat as updates arrive."""

    async def shutdown(self) -> None:
        """Nothing to free: every chat's entry goes with its last update."""
