"""Idle conversations end by a sweep, in their chat's turn, with no job per update."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from telegram import Chat, Message, MessageEntity, Update, User
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.local_api import LocalBotApi
from bot.update_order import PerChatUpdateProcessor
from handlers.idle import IdleEndingConversation, IdleUpdate
from tests.handlers.conftest import Reporter, begin, running_bot
from tests.support.processes import until

CHAT = 6_200_001
IDLE = dt.timedelta(minutes=30)
OPEN = 1


def _message(bot: Any, update_id: int, text: str) -> Update:
    user = User(CHAT, "A", is_bot=False)
    entities = [MessageEntity(MessageEntity.BOT_COMMAND, 0, len(text))] if text[0] == "/" else []
    message = Message(
        update_id, dt.datetime.now(dt.UTC), Chat(CHAT, Chat.PRIVATE),
        from_user=user, text=text, entities=entities,
    )
    message.set_bot(bot)
    return Update(update_id, message=message)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def _start(_update: Update, _context: Any) -> int:
    return OPEN


def _conversation(step: Any, idle: Any, clock: Clock) -> IdleEndingConversation:
    """/start opens the conversation; every text goes to ``step``; ``idle`` ends it."""
    return IdleEndingConversation(
        name="test", entry_points=[CommandHandler("start", _start)],
        states={OPEN: [MessageHandler(filters.TEXT, step)]}, fallbacks=[],
        idle_after=IDLE, on_idle=idle, clock=clock,
    )


async def _start_then_say(app: Application[Any, Any, Any, Any, Any, Any], text: str) -> None:
    await app.update_queue.put(_message(app.bot, 1, "/start"))
    await app.update_queue.put(_message(app.bot, 2, text))


def _ended(conversation: IdleEndingConversation) -> Callable[[], Awaitable[bool]]:
    async def ended() -> bool:
        return conversation.check_update(IdleUpdate(CHAT, CHAT)) is None

    return ended


@asynccontextmanager
async def application(
    conversation: IdleEndingConversation,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """A started application with the bot's per-chat update order and only ``conversation``."""
    async with LocalBotApi.running() as api:
        app = (
            ApplicationBuilder()
            .token(api.add_bot())
            .base_url(api.bot_base_url)
            .concurrent_updates(PerChatUpdateProcessor(4))
            .build()
        )
        app.add_handler(conversation)
        async with app:
            await app.start()
            try:
                yield app
            finally:
                await app.stop()


async def test_a_conversation_step_schedules_no_job() -> None:
    async with running_bot() as harness:
        assert harness.app.job_queue is not None
        sweeps = {job.name for job in harness.app.job_queue.jobs()}
        reporter = Reporter(harness.api.open_chat(6_200_002, "A"))
        await begin(reporter)
        await reporter.press("Harassment or threats")
        # PTB's own conversation_timeout would hold one job per open conversation here.
        assert {job.name for job in harness.app.job_queue.jobs()} == sweeps


async def test_the_idle_end_waits_for_the_update_the_chat_has_in_hand() -> None:
    clock = Clock()
    events: list[str] = []
    started, release, ended = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow_step(_update: Update, _context: Any) -> int:
        events.append("step starts")
        started.set()
        await release.wait()
        events.append("step ends")
        return OPEN

    async def idle(update: Update, _context: Any) -> int:
        assert update.effective_chat is not None
        assert update.effective_chat.id == CHAT
        events.append("idle end")
        ended.set()
        return ConversationHandler.END

    conversation = _conversation(slow_step, idle, clock)
    async with application(conversation) as app:
        await _start_then_say(app, "a slow answer")
        await asyncio.wait_for(started.wait(), 10)
        clock.now += IDLE.total_seconds() + 1

        assert conversation.sweep(app) == 1
        for _ in range(50):  # the end is queued behind the step, not run beside it
            await asyncio.sleep(0)
        assert events == ["step starts"]

        release.set()
        await asyncio.wait_for(ended.wait(), 10)
        assert events == ["step starts", "step ends", "idle end"]

        await until(_ended(conversation), timeout=10)
        assert conversation.idle_keys() == []


async def test_a_conversation_that_ended_is_only_forgotten() -> None:
    clock = Clock()
    ended_by_idle: list[Update] = []
    finished = asyncio.Event()

    async def finish(_update: Update, _context: Any) -> int:
        finished.set()
        return ConversationHandler.END

    async def idle(update: Update, _context: Any) -> int:
        ended_by_idle.append(update)
        return ConversationHandler.END

    conversation = _conversation(finish, idle, clock)
    async with application(conversation) as app:
        await _start_then_say(app, "done")
        await asyncio.wait_for(finished.wait(), 10)

        await until(_ended(conversation), timeout=10)
        clock.now += IDLE.total_seconds() + 1
        assert conversation.sweep(app) == 0
        assert conversation.idle_keys() == []  # the key went with the sweep
    assert ended_by_idle == []


async def test_a_conversation_with_recent_updates_is_not_idle() -> None:
    clock = Clock()
    stepped = asyncio.Event()

    async def step(_update: Update, _context: Any) -> int:
        stepped.set()
        return OPEN

    async def idle(_update: Update, _context: Any) -> int:
        raise AssertionError("ended while in use")

    conversation = _conversation(step, idle, clock)
    async with application(conversation) as app:
        await app.update_queue.put(_message(app.bot, 1, "/start"))
        clock.now += IDLE.total_seconds() - 5
        await app.update_queue.put(_message(app.bot, 2, "still here"))
        await asyncio.wait_for(stepped.wait(), 10)
        clock.now += 10
        assert conversation.sweep(app) == 0
        assert conversation.idle_keys() == []
        assert conversation.check_update(IdleUpdate(CHAT, CHAT)) is not None
