"""The erase journal (I7 after a hard stop): ids stored as a conversation goes, held while it lives.

A "restarted process" is a fresh :class:`Housekeeping` on the same database and keyring: it holds
nothing, as a process started after a SIGKILL holds nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from bot.services.erase_journal import OUTSIDE_HOLD, EraseJournal
from bot.services.housekeeping import Housekeeping, HousekeepingKeyring
from storage.engine import Database
from storage.models import Housekeeping as HousekeepingRow

from .conftest import Clock
from .test_housekeeping import new_chat_id

RETENTION = dt.timedelta(hours=24)


async def row_count(db: Database) -> int:
    async with db.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(HousekeepingRow)) or 0


def restarted(db: Database, keyring: HousekeepingKeyring, clock: Clock) -> Housekeeping:
    """The housekeeping of a process started after this one died: no holds."""
    return Housekeeping(db, keyring, retention=RETENTION, clock=clock)


async def stored_ids(housekeeping: Housekeeping) -> dict[int, list[int]]:
    due, damaged = await housekeeping.due(1000)
    assert damaged == 0
    found: dict[int, list[int]] = {}
    for item in due:
        found.setdefault(item.target.chat_id, []).extend(item.target.message_ids)
    return found


async def test_a_conversation_is_one_row_rewritten_as_it_grows(
    db: Database, housekeeping: Housekeeping, keyring: HousekeepingKeyring, clock: Clock
) -> None:
    journal = EraseJournal(housekeeping, clock=clock)
    chat = new_chat_id()
    for step in range(3):
        for n in range(10):
            journal.journal(chat, 100 + step * 10 + n)
        journal.journal(chat, 100)  # an edited message, recorded again
        assert await journal.flush() == 1

    assert await row_count(db) == 1
    assert journal.counts.flushes == 3
    assert await stored_ids(restarted(db, keyring, clock)) == {chat: list(range(100, 130))}
    assert await journal.flush() == 0  # nothing new: no write at all


async def test_live_conversations_are_held_from_this_process_but_not_from_the_next(
    db: Database, housekeeping: Housekeeping, keyring: HousekeepingKeyring, clock: Clock
) -> None:
    journal = EraseJournal(housekeeping, clock=clock)
    chats = [new_chat_id() for _ in range(3)]
    for chat in chats:
        journal.journal(chat, 7)
    await journal.flush()

    # One transaction for all three chats, and this process's erase job leaves them alone.
    assert journal.counts.flushes == 1
    assert await row_count(db) == 3
    assert await housekeeping.due(10) == ([], 0)
    assert await stored_ids(restarted(db, keyring, clock)) == {chat: [7] for chat in chats}


async def test_settling_a_conversation_deletes_its_rows(
    db: Database, housekeeping: Housekeeping, keyring: HousekeepingKeyring, clock: Clock
) -> None:
    journal = EraseJournal(housekeeping, clock=clock)
    ended, still_open = new_chat_id(), new_chat_id()
    for message_id in range(150):  # past 100 ids: a second row
        journal.journal(ended, message_id)
    journal.journal(still_open, 1)
    await journal.flush()
    assert await row_count(db) == 3
    journal.journal(ended, 999)  # recorded after the last flush: never written

    await journal.settle(ended)

    assert await journal.flush() == 0
    assert await stored_ids(restarted(db, keyring, clock)) == {still_open: [1]}


async def test_more_than_a_hundred_ids_overflow_into_a_new_row(
    db: Database, housekeeping: Housekeeping, keyring: HousekeepingKeyring, clock: Clock
) -> None:
    journal = EraseJournal(housekeeping, clock=clock)
    chat = new_chat_id()
    for message_id in range(90):
        journal.journal(chat, message_id)
    await journal.flush()
    for message_id in range(90, 215):
        journal.journal(chat, message_id)
    await journal.flush()

    due, _ = await restarted(db, keyring, clock).due(10)
    assert sorted(len(item.target.message_ids) for item in due) == [15, 100, 100]
    assert sorted(m for item in due for m in item.target.message_ids) == list(range(215))


async def test_messages_outside_a_conversation_are_held_a_while_then_erased(
    db: Database, housekeeping: Housekeeping, keyring: HousekeepingKeyring, clock: Clock
) -> None:
    journal = EraseJournal(housekeeping, clock=clock)
    chat = new_chat_id()
    journal.erase_later(chat, [5, 6])
    journal.erase_later(chat, [6])
    await journal.flush()

    assert await housekeeping.due(10) == ([], 0)  # readable for a while
    assert await stored_ids(restarted(db, keyring, clock)) == {chat: [5, 6]}
    clock.advance(seconds=OUTSIDE_HOLD.total_seconds() + 1)
    assert await stored_ids(housekeeping) == {chat: [5, 6]}


async def test_emptying_the_chat_takes_the_held_outside_messages_and_only_those(
    db: Database, housekeeping: Housekeeping, keyring: HousekeepingKeyring, clock: Clock
) -> None:
    """/forget (or any end of a conversation) erases what was answered outside one at once: the
    stored held row and the ids still waiting; an id recorded after it looked is left for later."""
    journal = EraseJournal(housekeeping, clock=clock)
    chat, other = new_chat_id(), new_chat_id()
    journal.erase_later(chat, [5, 6])
    journal.erase_later(other, [9])
    await journal.flush()  # 5, 6 and 9 stored, held
    journal.erase_later(chat, [7])  # waiting for the next flush

    assert journal.outside_messages(chat) == [5, 6, 7]
    journal.erase_later(chat, [8])  # arrives while the flow erases
    await journal.settle(chat)

    assert await stored_ids(restarted(db, keyring, clock)) == {other: [9]}
    assert journal.outside_messages(chat) == [8]
    await journal.flush()
    assert await stored_ids(restarted(db, keyring, clock)) == {other: [9], chat: [8]}


async def test_outside_messages_past_their_hold_are_left_to_the_erase_job(
    housekeeping: Housekeeping, clock: Clock
) -> None:
    journal = EraseJournal(housekeeping, clock=clock)
    chat = new_chat_id()
    journal.erase_later(chat, [5])
    await journal.flush()
    clock.advance(seconds=OUTSIDE_HOLD.total_seconds() + 1)
    assert journal.outside_messages(chat) == []
    assert await stored_ids(housekeeping) == {chat: [5]}


async def test_a_full_journal_wakes_a_flush_once(housekeeping: Housekeeping, clock: Clock) -> None:
    journal = EraseJournal(housekeeping, flush_ids=3, clock=clock)
    woken: list[bool] = []
    journal.on_full(lambda: woken.append(True))
    chat = new_chat_id()
    for message_id in range(6):
        journal.journal(chat, message_id)
    assert woken == [True]
    await journal.flush()
    for message_id in range(6, 9):
        journal.journal(chat, message_id)
    assert woken == [True, True]


async def test_ids_recorded_while_a_flush_writes_are_stored_by_the_next(
    db: Database, keyring: HousekeepingKeyring, clock: Clock
) -> None:
    chat = new_chat_id()

    class RecordingDuringStore(Housekeeping):
        """A message arrives while the flush's transaction is in flight."""

        async def store(self, *args: Any, **kwargs: Any) -> list[int]:
            if not arrived:
                arrived.append(True)
                journal.journal(chat, 2)
                journal.erase_later(chat, [90])
            return await super().store(*args, **kwargs)

    arrived: list[bool] = []
    housekeeping = RecordingDuringStore(db, keyring, retention=RETENTION, clock=clock)
    journal = EraseJournal(housekeeping, clock=clock)
    journal.journal(chat, 1)
    await journal.flush()
    await journal.flush()

    assert sorted((await stored_ids(restarted(db, keyring, clock)))[chat]) == [1, 2, 90]
