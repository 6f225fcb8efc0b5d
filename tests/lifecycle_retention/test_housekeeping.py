"""Housekeeping (I2, I7): ids sealed at rest, erased through Telegram, keys destroyed unused."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.jobs.erase import Eraser
from bot.local_api import LocalBotApi
from bot.local_api.limits import Fault
from bot.local_api.ptb import application_builder
from bot.services.housekeeping import (
    Housekeeping,
    HousekeepingKeyError,
    HousekeepingKeyring,
)
from crypto.housekeeping import SEALED_BYTES
from storage.engine import Database
from storage.models import Housekeeping as HousekeepingRow
from storage.purge import purge

from .conftest import Clock

RETENTION = {
    "closed_report_retention": dt.timedelta(days=90),
    "mailbox_retention": dt.timedelta(days=90),
    "delivery_retention": dt.timedelta(days=90),
}


def new_chat_id() -> int:
    # Large and random, so its byte forms cannot occur in a database file by accident.
    return 7_000_000_000_000 + secrets.randbelow(10**12)


def forms_of(number: int) -> list[bytes]:
    """How an id could sit in a file: decimal text, or 4/6/8-byte integers either way round."""
    forms = [str(number).encode()]
    for size in (6, 8):
        forms += [number.to_bytes(size, "big"), number.to_bytes(size, "little")]
    if number < 2**31:
        forms += [number.to_bytes(4, "big"), number.to_bytes(4, "little")]
    return forms


def raw_files(path: Path) -> bytes:
    return b"".join(
        part.read_bytes()
        for part in (path, path.with_name(path.name + "-wal"))
        if part.exists()
    )


async def rows(db: Database) -> list[HousekeepingRow]:
    async with db.sessionmaker() as session:
        return list((await session.scalars(select(HousekeepingRow))).all())


async def test_kept_ids_are_sealed_and_chunked_by_hundred(
    db: Database, housekeeping: Housekeeping, clock: Clock
) -> None:
    chat_id = new_chat_id()
    await housekeeping.keep_for_erasure(chat_id, list(range(1000, 1150)))

    stored = await rows(db)
    assert len(stored) == 2
    assert {row.deadline for row in stored} == {clock.now + dt.timedelta(hours=24)}
    assert {row.key_version for row in stored} == {housekeeping.keyring.current(clock.now).version}
    due, damaged = await housekeeping.due(10)
    assert damaged == 0
    # Row ids are random (I3), so the chunks come back in no particular order.
    assert sorted(len(d.target.message_ids) for d in due) == [50, 100]
    assert {d.target.chat_id for d in due} == {chat_id}


async def test_database_file_holds_no_chat_or_message_id_in_clear(
    sqlite_db: Database, keyring: HousekeepingKeyring, clock: Clock
) -> None:
    db = sqlite_db
    assert db.sqlite_path is not None
    housekeeping = Housekeeping(db, keyring, retention=dt.timedelta(hours=24), clock=clock)
    chat_id = new_chat_id()
    message_id = 1_900_000_000 + secrets.randbelow(10**8)
    await housekeeping.keep_for_erasure(chat_id, [message_id])

    found = raw_files(db.sqlite_path)
    assert not [form for form in forms_of(chat_id) + forms_of(message_id) if form in found]
    # The check would catch an id in clear: the same ids stored unsealed are found.
    async with db.sessionmaker() as session, session.begin():
        session.add(
            HousekeepingRow(
                target_sealed=chat_id.to_bytes(8, "big") + str(message_id).encode(),
                key_version=1,
                deadline=clock.now,
            )
        )
    found = raw_files(db.sqlite_path)
    assert chat_id.to_bytes(8, "big") in found
    assert str(message_id).encode() in found


async def test_keys_are_private_files_one_per_day(
    keyring: HousekeepingKeyring, clock: Clock
) -> None:
    first = keyring.current(clock.now)
    assert keyring.current(clock.now + dt.timedelta(hours=1)) == first
    clock.advance(days=1)
    second = keyring.current(clock.now)
    assert second.version != first.version
    assert second.key != first.key
    assert stat.S_IMODE(os.stat(keyring.directory).st_mode) == 0o700
    files = sorted(keyring.directory.iterdir())
    assert [p.name for p in files] == [f"{first.day}.key", f"{second.day}.key"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}


async def test_key_readable_by_others_is_refused(
    keyring: HousekeepingKeyring, clock: Clock
) -> None:
    dated = keyring.current(clock.now)
    (keyring.directory / f"{dated.day}.key").chmod(0o644)
    with pytest.raises(HousekeepingKeyError, match="not private"):
        keyring.current(clock.now)


async def test_expired_keys_are_destroyed_once_unused(
    db: Database, housekeeping: Housekeeping, clock: Clock
) -> None:
    await housekeeping.keep_for_erasure(new_chat_id(), [1, 2, 3])
    first = housekeeping.keyring.current(clock.now)
    key_file = housekeeping.keyring.directory / f"{first.day}.key"

    clock.advance(hours=13)  # the next day (NOW is noon): a new key, the old one still in use
    await housekeeping.keep_for_erasure(new_chat_id(), [4])
    assert await housekeeping.retire_keys() == 0
    assert key_file.exists()

    clock.advance(hours=12)  # the first row is past its 24 h deadline
    counts = await purge(db, now=clock.now, **RETENTION)
    assert counts.housekeeping == 1
    assert await housekeeping.retire_keys() == 1
    assert not key_file.exists()
    # The second day's key still seals a stored row, and that row still opens.
    due, damaged = await housekeeping.due(10)
    assert (len(due), damaged) == (1, 0)
    assert [d.day for d in housekeeping.keyring.present()] == [clock.now.date()]


async def test_a_row_whose_key_is_gone_is_left_to_the_purge(
    db: Database, housekeeping: Housekeeping, clock: Clock
) -> None:
    await housekeeping.keep_for_erasure(new_chat_id(), [1])
    for path in housekeeping.keyring.directory.iterdir():
        path.unlink()
    assert await housekeeping.due(10) == ([], 0)
    assert len(await rows(db)) == 1


async def test_a_damaged_row_is_dropped_not_retried(
    db: Database, housekeeping: Housekeeping
) -> None:
    await housekeeping.keep_for_erasure(new_chat_id(), [1])
    async with db.sessionmaker() as session, session.begin():
        damaged = b"shkp\x01" + bytes(SEALED_BYTES - 5)
        await session.execute(update(HousekeepingRow).values(target_sealed=damaged))
    assert await housekeeping.due(10) == ([], 1)
    assert await rows(db) == []


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi.running(seed=11) as server:
        yield server


async def test_erase_job_deletes_the_messages_in_the_chat(
    db: Database, housekeeping: Housekeeping, api: LocalBotApi
) -> None:
    application = application_builder(api, api.add_bot()).build()
    kept_chat = api.open_chat(new_chat_id(), "Reporter")
    other_chat = api.open_chat(new_chat_id(), "Someone else")
    async with application:
        ids = [(await kept_chat.send_text(f"evidence {n}")).message_id for n in range(3)]
        for n in range(2):
            sent = await application.bot.send_message(kept_chat.chat_id, f"question {n}")
            ids.append(sent.message_id)
        untouched = await other_chat.send_text("not part of any report")
        await housekeeping.keep_for_erasure(kept_chat.chat_id, ids)
        assert len(kept_chat.messages()) == 5

        counts = await Eraser(housekeeping, application.bot).run()

    assert (counts.erased, counts.retrying, counts.dropped) == (1, 0, 0)
    assert kept_chat.messages() == []
    assert [m.message_id for m in other_chat.messages()] == [untouched.message_id]
    assert await rows(db) == []


async def test_erase_job_keeps_rows_telegram_could_not_erase_yet(
    db: Database, housekeeping: Housekeeping, api: LocalBotApi
) -> None:
    application = application_builder(api, api.add_bot()).build()
    chats = [api.open_chat(new_chat_id(), "Reporter") for _ in range(2)]
    async with application:
        for chat in chats:
            message = await chat.send_text("please erase me")
            await housekeeping.keep_for_erasure(chat.chat_id, [message.message_id])
        # A 500 and a 403 (blocked): worth another try; the run goes on to the next target.
        api.faults.inject("deleteMessages", sequence=[Fault.server_error(), Fault.forbidden()])
        failing = await Eraser(housekeeping, application.bot).run()
        # Over the rate limit: the run stops at once.
        api.faults.inject("deleteMessages", sequence=[Fault.rate_limited(5)])
        limited = await Eraser(housekeeping, application.bot).run()
        assert len(await rows(db)) == 2
        assert all(chat.messages() for chat in chats)
        recovered = await Eraser(housekeeping, application.bot).run()

    assert (failing.erased, failing.retrying) == (0, 2)
    assert (limited.erased, limited.retrying) == (0, 1)
    assert (recovered.erased, recovered.retrying) == (2, 0)
    assert [chat.messages() for chat in chats] == [[], []]
    assert await rows(db) == []
