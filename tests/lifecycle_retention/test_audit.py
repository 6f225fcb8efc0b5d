"""The audit chain: appends link up and are signed by the bot key; an edited, deleted, moved,
rewritten or truncated log is found and named.

Every attack here is a database writer's: rows changed with plain SQL, hashes recomputed with the
public algorithm, but no bot key and no access to the state directory (DESIGN.md §2, I9).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from bot.audit_head import BotAuditSeal, install_audit_seal
from bot.bot_identity import load_or_create_bot_key
from crypto import _sodium
from crypto.audit_signature import sign_audit_entry
from crypto.keys import Ed25519SigningKey
from storage import audit
from storage.engine import Backend, Database
from storage.models import AuditEntry

from .conftest import TODAY


@pytest.fixture
def seal(db: Database, tmp_path: Path) -> BotAuditSeal:
    """The bot's seal on ``db``, with its key and head file in a fresh state directory."""
    state_dir = tmp_path / "state"
    return install_audit_seal(db, state_dir, load_or_create_bot_key(state_dir))


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


async def problems(db: Database) -> list[tuple[int | None, str]]:
    return [(problem.entry_id, problem.line) for problem in (await verdict(db)).problems]


async def rows_in_order(db: Database) -> list[AuditEntry]:
    async with db.sessionmaker() as session:
        return list(await audit.entries(session))


async def rewrite_from(db: Database, index: int, sign_with: Ed25519SigningKey | None) -> None:
    """Change entry ``index`` and recompute every hash from there, as a database writer can.

    The signatures are replaced by ``sign_with``'s (a key of the writer's own) or, without one,
    left as they were.
    """
    rows = await rows_in_order(db)
    previous = rows[index - 1].entry_hash if index else None
    async with db.sessionmaker() as session, session.begin():
        for position, row in enumerate(rows[index:], start=index + 1):
            counts = {"caseworkers": 0} if position == index + 1 else row.counts
            content = audit.canonical_entry(
                day=row.day, event=row.event, actor_key_id=row.actor_key_id, counts=counts
            )
            digest = audit.entry_hash(previous, content)
            values: dict[str, object] = {
                "counts": counts,
                "prev_hash": previous,
                "entry_hash": digest,
            }
            if sign_with is not None:
                values["signature"] = sign_audit_entry(sign_with, position, digest)
            await session.execute(
                update(AuditEntry).where(AuditEntry.id == row.id).values(**values)
            )
            previous = digest


async def test_appended_entries_form_an_intact_signed_chain(
    db: Database, seal: BotAuditSeal
) -> None:
    assert (await verdict(db)).intact  # an empty log is intact too
    ids = await append_some(db, 4)
    found = await verdict(db)
    assert found.intact
    assert found.entries == 4
    rows = await rows_in_order(db)
    assert [row.id for row in rows] == ids
    assert rows[0].prev_hash is None
    assert [row.prev_hash for row in rows[1:]] == [row.entry_hash for row in rows[:-1]]
    assert found.head == rows[-1].entry_hash
    assert all(
        row.signature is not None and seal.verify(position, row.entry_hash, row.signature)
        for position, row in enumerate(rows, start=1)
    )
    assert seal.recorded_head() == (4, rows[-1].entry_hash)


async def test_head_file_is_private_and_names_length_and_head(
    db: Database, seal: BotAuditSeal
) -> None:
    await append_some(db, 2)
    head = (await rows_in_order(db))[-1].entry_hash
    assert seal.head_path.stat().st_mode & 0o777 == 0o600
    assert seal.head_path.read_text() == f"sanad-audit-head 1 2 {head.hex()}\n"


async def test_edited_entry_is_detected_and_named(db: Database, seal: BotAuditSeal) -> None:
    ids = await append_some(db, 4)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(AuditEntry).where(AuditEntry.id == ids[2]).values(counts={"caseworkers": 9})
        )
    assert await problems(db) == [
        (ids[2], f"audit chain broken at entry #{ids[2]}: it was changed after it was written")
    ]


async def test_entry_deleted_from_the_middle_is_named_and_counted_missing(
    db: Database, seal: BotAuditSeal
) -> None:
    ids = await append_some(db, 4)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    assert await problems(db) == [
        (ids[2], f"audit chain broken at entry #{ids[2]}: it does not follow the entry before it"),
        (None, "audit log truncated: 4 entries recorded, 3 found"),
    ]


async def test_deleted_first_entry_is_detected(db: Database, seal: BotAuditSeal) -> None:
    ids = await append_some(db, 2)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[0]))
    assert (await verdict(db)).problems[0].entry_id == ids[1]


async def test_reordered_entries_are_detected(db: Database, seal: BotAuditSeal) -> None:
    ids = await append_some(db, 3)
    async with db.sessionmaker() as session, session.begin():
        first, second = (
            await session.scalars(select(AuditEntry).where(AuditEntry.id.in_(ids[:2])))
        ).all()
        swapped = [
            {
                c: getattr(row, c)
                for c in (
                    "day",
                    "event",
                    "actor_key_id",
                    "counts",
                    "prev_hash",
                    "entry_hash",
                    "signature",
                )
            }
            for row in (second, first)
        ]
        for row_id, values in zip(ids[:2], swapped, strict=True):
            await session.execute(
                update(AuditEntry).where(AuditEntry.id == row_id).values(**values)
            )
    assert await problems(db) == [
        (ids[0], f"audit chain broken at entry #{ids[0]}: it does not follow the entry before it")
    ]


async def test_deleting_the_newest_entries_is_caught_by_the_recorded_head(
    db: Database, seal: BotAuditSeal
) -> None:
    ids = await append_some(db, 4)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids[2:])))
    assert await problems(db) == [(None, "audit log truncated: 4 entries recorded, 2 found")]


async def test_truncation_is_not_papered_over_by_later_honest_entries(
    db: Database, seal: BotAuditSeal
) -> None:
    ids = await append_some(db, 3)
    recorded = seal.recorded_head()
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[2]))
    later = await append_some(db, 2)  # the bot goes on signing; the record must not follow
    assert seal.recorded_head() == recorded
    assert await problems(db) == [
        (later[0], f"audit log rewritten: entry #{later[0]} (position 3) is not the recorded head")
    ]


async def test_chain_rewritten_with_recomputed_hashes_is_caught_by_signatures(
    db: Database, seal: BotAuditSeal
) -> None:
    ids = await append_some(db, 4)
    await rewrite_from(db, 1, sign_with=None)
    assert await problems(db) == [
        (
            ids[1],
            f"audit entry #{ids[1]} is not signed by the bot key here (nor are 2 later entries)",
        ),
        (ids[3], f"audit log rewritten: entry #{ids[3]} (position 4) is not the recorded head"),
    ]


async def test_chain_rewritten_and_signed_with_another_key_is_caught(
    db: Database, seal: BotAuditSeal
) -> None:
    ids = await append_some(db, 3)
    await rewrite_from(db, 0, sign_with=Ed25519SigningKey.generate())
    found = await problems(db)
    assert found[0] == (
        ids[0],
        f"audit entry #{ids[0]} is not signed by the bot key here (nor are 2 later entries)",
    )


async def test_entry_appended_without_the_seal_is_named_unsigned(
    db: Database, seal: BotAuditSeal
) -> None:
    await append_some(db, 1)
    async with db.sessionmaker(info={audit.SEAL_INFO_KEY: None}) as session, session.begin():
        unsigned = await audit.append(session, "purge.done", None, {"reports": 1}, TODAY)
    assert unsigned.signature is None
    assert await problems(db) == [(unsigned.id, f"audit entry #{unsigned.id} is not signed")]


class Abandoned(Exception):
    """The action an audit entry recorded failed, so its transaction rolls back."""


async def append_then_fail(db: Database) -> None:
    async with db.sessionmaker() as session, session.begin():
        await audit.append(session, "purge.done", None, {"reports": 1}, TODAY)
        raise Abandoned


async def test_rolled_back_append_does_not_move_the_head(db: Database, seal: BotAuditSeal) -> None:
    await append_some(db, 2)
    recorded = seal.recorded_head()
    with pytest.raises(Abandoned):
        await append_then_fail(db)
    assert seal.recorded_head() == recorded
    assert (await verdict(db)).intact
    await append_some(db, 1)
    assert seal.recorded_head() == (3, (await rows_in_order(db))[-1].entry_hash)


async def test_head_not_recorded_after_a_crash_is_caught_up_by_verify(
    db: Database, seal: BotAuditSeal, monkeypatch: pytest.MonkeyPatch
) -> None:
    await append_some(db, 2)
    before = seal.recorded_head()
    with monkeypatch.context() as crash:  # committed, then the process died before the write
        crash.setattr(BotAuditSeal, "record_head", lambda *_: None)
        await append_some(db, 1)
    assert seal.recorded_head() == before
    found = await verdict(db)
    assert found.intact
    assert seal.recorded_head() == (3, found.head)


async def test_damaged_head_file_is_named_and_does_not_stop_appends(
    db: Database, seal: BotAuditSeal
) -> None:
    await append_some(db, 2)
    seal.head_path.write_text("sanad-audit-head 1 two\n")
    await append_some(db, 1)  # a purge is still recorded (I6 does not wait on the file)
    assert seal.head_path.read_text() == "sanad-audit-head 1 two\n"  # kept as evidence
    assert await problems(db) == [(None, f"the audit head {seal.head_path} is damaged")]


async def test_a_replaced_bot_key_no_longer_vouches_for_old_entries(
    db: Database, seal: BotAuditSeal, tmp_path: Path
) -> None:
    ids = await append_some(db, 2)
    install_audit_seal(db, tmp_path / "state", Ed25519SigningKey.generate())
    assert (await verdict(db)).problems[0].entry_id == ids[0]


async def test_concurrent_appends_never_fork_the_chain(db: Database, seal: BotAuditSeal) -> None:
    async def one(n: int) -> None:
        async with db.sessionmaker() as session, session.begin():
            await audit.append(session, "purge.done", None, {"reports": n}, TODAY)
            await asyncio.sleep(0.01)  # hold the transaction while others try to append

    await asyncio.gather(*(one(n) for n in range(8)))
    found = await verdict(db)
    assert (found.intact, found.entries) == (True, 8)
    assert seal.recorded_head() == (8, found.head)
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
