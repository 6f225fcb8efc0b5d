"""Updates of one chat run in arrival order; other chats are never held up (I7, I8)."""

from __future__ import annotations

import asyncio
import datetime as dt

from telegram import Chat, Message, Update, User

from bot.update_order import PerChatUpdateProcessor


def _update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    user = User(chat_id, "someone", is_bot=False)
    message = Message(update_id, dt.datetime.now(dt.UTC), chat, from_user=user, text="x")
    return Update(update_id, message=message)


async def test_one_chat_runs_in_arrival_order_never_overlapping() -> None:
    processor = PerChatUpdateProcessor(8)
    running = 0
    overlapped = False
    finished: list[int] = []

    async def handle(n: int) -> None:
        nonlocal running, overlapped
        running += 1
        overlapped = overlapped or running > 1
        # Later updates finish faster: without ordering they would overtake earlier ones.
        await asyncio.sleep(0.01 * (5 - n))
        running -= 1
        finished.append(n)

    await asyncio.gather(*(processor.process_update(_update(n, 7), handle(n)) for n in range(5)))
    assert finished == [0, 1, 2, 3, 4]
    assert not overlapped


async def test_a_slow_chat_does_not_hold_up_another_chat() -> None:
    processor = PerChatUpdateProcessor(4)
    release = asyncio.Event()
    other_done = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    async def quick() -> None:
        other_done.set()

    blocked = [
        asyncio.create_task(processor.process_update(_update(n, 1), slow())) for n in range(10)
    ]
    other = asyncio.create_task(processor.process_update(_update(99, 2), quick()))
    await asyncio.wait_for(other_done.wait(), timeout=2)
    release.set()
    await asyncio.gather(*blocked, other)


async def test_a_flooding_chat_is_cut_off_and_others_still_run() -> None:
    processor = PerChatUpdateProcessor(2, max_waiting_per_chat=3)
    release = asyncio.Event()
    ran: list[int] = []

    async def held(n: int) -> None:
        await release.wait()
        ran.append(n)

    flood = [
        asyncio.create_task(processor.process_update(_update(n, 5), held(n))) for n in range(20)
    ]
    await asyncio.sleep(0.05)
    await asyncio.wait_for(processor.process_update(_update(100, 6), asyncio.sleep(0)), timeout=2)
    release.set()
    await asyncio.gather(*flood)
    # One running plus three waiting were kept; the rest of the flood was dropped.
    assert ran == [0, 1, 2, 3]


async def test_chat_entries_are_forgotten_when_idle() -> None:
    processor = PerChatUpdateProcessor(2)
    await processor.process_update(_update(1, 3), asyncio.sleep(0))
    assert processor._turns == {}


async def test_a_dropped_update_is_handed_over_for_erasure_before_it_is_dropped() -> None:
    dropped: list[int] = []

    def record(update: object) -> None:
        assert isinstance(update, Update)
        assert update.effective_message is not None
        dropped.append(update.effective_message.message_id)

    processor = PerChatUpdateProcessor(2, max_waiting_per_chat=3, on_dropped=record)
    release = asyncio.Event()
    flood = [
        asyncio.create_task(processor.process_update(_update(n, 5), release.wait()))
        for n in range(10)
    ]
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(*flood)
    # I7: the six dropped messages are erased although no handler ever saw them.
    assert dropped == [4, 5, 6, 7, 8, 9]
