"""The audit chain: appends link up, and an edited, deleted or moved entry is found and named."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets

import pytest
from sqlalchemy import delete, select, update

from crypto import _sodium
from storage import audit
from storage.engine import Backend, Database
from storage.models import AuditEntry

from .conftest import TODAY


async def append_some(db: Database, count: int) -> list[int]:
    ids = []
    for n in range(count):
        async with db.sessionmaker() as session, session.begin():
            entry = await audit.append(
                session,
                "caseworker.approved",
                secrets.token_bytes(16),
                {"caseworkers": 1, "days": 30 + n},
                TODAY + dt.timedelta(days=n),
            )
            ids.append(entry.id)
    return ids


async def verdict(db: Database) -> audit.ChainVerdict:
    async with db.sessionmaker() as session, session.begin():
        return await audit.verify_chain(session)


async def test_appended_entries_form_an_intact_chain(db: Database) -> None:
    assert (await verdict(db)).intact  # an empty log is intact too
    ids = await append_some(db, 4)
    found = await verdict(db)
    assert found.intact
    assert found.entries == 4
    async with db.sessionmaker() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [row.id for row in rows] == ids
    assert rows[0].prev_hash is None
    assert [row.prev_hash for row in rows[1:]] == [row.entry_hash for row in rows[:-1]]
    assert found.head == rows[-1].entry_hash


async def test_edited_entry_is_detected_and_named(db: Database) -> None:
    ids = await append_some(db, 4)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(AuditEntry).where(AuditEntry.id == ids[2]).values(counts={"caseworkers": 9})
        )
    found = await verdict(db)
    assert (found.first_bad_id, found.problem) == (ids[2], "was changed after it was written")


async def test_deleted_entry_is_detected_and_the_next_one_named(db: Database) -> None:
    ids = await append_some(db, 4)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    found = await verdict(db)
    assert (found.first_bad_id, found.problem) == (ids[2], "does not follow the entry before it")


async def test_deleted_first_entry_is_detected(db: Database) -> None:
    ids = await append_some(db, 2)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[0]))
    assert (await verdict(db)).first_bad_id == ids[1]


async def test_reordered_entries_are_detected(db: Database) -> None:
    ids = await append_some(db, 3)
    async with db.sessionmaker() as session, session.begin():
        first, second = (
            await session.scalars(select(AuditEntry).where(AuditEntry.id.in_(ids[:2])))
        ).all()
        swapped = [
            {c: getattr(row, c) for c in ("day", "event", "actor_key_id", "counts", "prev_hash",
                                          "entry_hash")}
            for row in (second, first)
        ]
        for row_id, values in zip(ids[:2], swapped, strict=True):
            await session.execute(
                update(AuditEntry).where(AuditEntry.id == row_id).values(**values)
            )
    assert (await verdict(db)).first_bad_id == ids[0]


async def test_concurrent_appends_never_fork_the_chain(db: Database) -> None:
    async def one(n: int) -> None:
        async with db.sessionmaker() as session, session.begin():
            await audit.append(session, "purge.done", None, {"reports": n}, TODAY)
            await asyncio.sleep(0.01)  # hold the transaction while others try to append

    await asyncio.gather(*(one(n) for n in range(8)))
    found = await verdict(db)
    assert (found.intact, found.entries) == (True, 8)
    if db.backend is Backend.POSTGRESQL:
        async with db.sessionmaker() as session:
            prevs = (await session.scalars(select(AuditEntry.prev_hash))).all()
        assert len(set(prevs)) == 8  # no two entries claim the same predecessor


@pytest.mark.parametrize(
    ("event", "actor", "counts"),
    [
        pytest.param("Reporter said: hello", None, {}, id="free-text-event"),
        pytest.param("case.closed", b"short", {}, id="short-key-id"),
        pytest.param("case.closed", None, {"K7Q-4M2P": 1}, id="identifier-as-count-name"),
        pytest.param("case.closed", None, {"reports": "3"}, id="text-count"),
        pytest.param("case.closed", None, {"reports": True}, id="boolean-count"),
    ],
)
async def test_append_refuses_anything_but_names_key_ids_and_counts(
    db: Database, event: str, actor: bytes | None, counts: dict[str, object]
) -> None:
    async with db.sessionmaker() as session, session.begin():
        with pytest.raises(audit.AuditEntryRefused):
            await audit.append(session, event, actor, counts, TODAY)  # type: ignore[arg-type]


def test_hashlib_blake2b_is_libsodiums_blake2b() -> None:
    data = secrets.token_bytes(200)
    person = b"sanad audit v1"
    expected = _sodium.blake2b(data, size=32, person=person.ljust(16, b"\x00"))
    assert audit.entry_hash(data[:32], data[32:]) == expected
