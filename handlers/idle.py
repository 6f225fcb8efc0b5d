"""Ending a reporter's conversation once it has been idle, without a job per update.

python-telegram-bot's own ``conversation_timeout`` reschedules a job on every update of a
conversation: an APScheduler job added and the previous one removed (about 70 µs an update),
and each removed job stays in memory, in a reference cycle holding the conversation's last
update and context, until a full garbage collection. Its timeout also runs as a job, outside the
per-chat order of :mod:`bot.update_order`, so it can race the chat's own next update.

:class:`IdleEndingConversation` is a ConversationHandler that keeps, for each conversation it
handled, only the monotonic time of its last update. :meth:`~IdleEndingConversation.sweep`, one
repeating job for the whole bot (:func:`watch_idle`), ends every conversation idle for longer
than ``idle_after``: it hands the conversation an :class:`IdleUpdate` for that chat through the
application's update processor, so the end waits its turn behind the chat's own updates. The
``on_idle`` callback, first in every state, takes it and returns ``ConversationHandler.END``; a
conversation that has already ended matches nothing and is only forgotten.

The times are kept in memory by conversation key (chat and user id), as PTB keeps its own
conversation states, and dropped at the sweep after the conversation went idle: never written.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeAlias

from telegram import Chat, Update, User
from telegram.ext import Application, BaseHandler, ContextTypes, ConversationHandler, TypeHandler

from bot.logs import event, get_logger

Context: TypeAlias = ContextTypes.DEFAULT_TYPE
Handler: TypeAlias = BaseHandler[Update, Context, Any]
IdleCallback: TypeAlias = Callable[[Update, Context], Coroutine[Any, Any, object]]
ConversationKey: TypeAlias = tuple[int, int]

_log = get_logger("idle")

# How often idle conversations are looked for, at most: a conversation ends between its timeout
# and this much later (shorter for short timeouts, as in tests).
SWEEP_SECONDS = 30.0


class IdleUpdate(Update):
    """Not from Telegram: "this chat's conversation has been idle too long".

    It carries the chat and the user of the conversation and nothing else (no message), so only
    an ``on_idle`` handler takes it, and ending the conversation deletes no message of its own.
    """

    __slots__ = ("_idle_chat", "_idle_user")

    def __init__(self, chat_id: int, user_id: int) -> None:
        self._idle_chat = Chat(chat_id, Chat.PRIVATE)
        self._idle_user = User(user_id, "", is_bot=False)
        super().__init__(update_id=0)

    @property
    def effective_chat(self) -> Chat:
        return self._idle_chat

    @property
    def effective_user(self) -> User:
        return self._idle_user


def _key(update: Update) -> ConversationKey | None:
    # The key PTB gives a conversation that is per chat and per user (the defaults used here).
    chat, user = update.effective_chat, update.effective_user
    return (chat.id, user.id) if chat is not None and user is not None else None


class IdleEndingConversation(ConversationHandler[Context]):
    """A ConversationHandler whose conversations end after ``idle_after`` without an update."""

    def __init__(
        self,
        *,
        name: str,
        entry_points: list[Handler],
        states: Mapping[object, list[Handler]],
        fallbacks: list[Handler],
        idle_after: dt.timedelta,
        on_idle: IdleCallback,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        idle: Handler = TypeHandler(IdleUpdate, on_idle)
        super().__init__(
            entry_points=entry_points,
            states={state: [idle, *handlers] for state, handlers in states.items()},
            fallbacks=[idle, *fallbacks],
            name=name,
            persistent=False,  # I1: no PTB persistence, ever
        )
        self.idle_after = idle_after.total_seconds()
        self._clock = clock
        self._last_update: dict[ConversationKey, float] = {}

    async def handle_update(
        self,
        update: Update,
        application: Application[Any, Context, Any, Any, Any, Any],
        check_result: Any,
        context: Context,
    ) -> object:
        key = _key(update)
        if key is not None and not isinstance(update, IdleUpdate):
            self._last_update[key] = self._clock()
        return await super().handle_update(update, application, check_result, context)

    def idle_keys(self) -> list[ConversationKey]:
        """The conversations last handled more than ``idle_after`` ago, forgotten as returned."""
        before = self._clock() - self.idle_after
        idle = [key for key, seen in self._last_update.items() if seen <= before]
        for key in idle:
            del self._last_update[key]
        return idle

    def sweep(self, application: Application[Any, Any, Any, Any, Any, Any]) -> int:
        """End every conversation idle too long, each in its chat's turn; returns how many."""
        ended = 0
        for chat_id, user_id in self.idle_keys():
            update = IdleUpdate(chat_id, user_id)
            if self.check_update(update) is None:
                continue  # ended by the reporter in the meantime
            ended += 1
            application.create_task(
                application.update_processor.process_update(update, self._end(update, application)),
                name=f"{self.name}:idle",
            )
        if ended:
            event(_log, f"conversations_idle.{self.name}", ended=ended)
        return ended

    async def _end(
        self, update: IdleUpdate, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> None:
        # Checked again in the chat's turn: an update handled while waiting may have ended it.
        check = self.check_update(update)
        if check is None:
            return
        context = application.context_types.context.from_update(update, application)
        try:
            await self.handle_update(update, application, check, context)
        except Exception as exc:  # handed to the flows' error handlers
            await application.process_error(update, exc)


def watch_idle(
    application: Application[Any, Context, Any, Any, Any, Any],
    conversation: IdleEndingConversation,
) -> None:
    """Sweep ``conversation`` for idle conversations, every :data:`SWEEP_SECONDS` at most."""

    async def sweep(context: Context) -> None:
        conversation.sweep(context.application)

    interval = min(SWEEP_SECONDS, conversation.idle_after / 4)
    if application.job_queue is None:
        raise RuntimeError("idle conversations need the application's job queue")
    application.job_queue.run_repeating(
        sweep, interval=interval, first=interval, name=f"idle-{conversation.name}"
    )
