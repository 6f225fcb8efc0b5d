"""Purge: only what is past its deadline goes; on SQLite its bytes leave the file and the WAL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from storage.engine import Database
from storage.models import (
    Direction,
    Housekeeping,
    Mailbox,
    OutboxEntry,
    Report,
    ReportStatus,
    Wrap,
)
from storage.outbox import claim_batch, mark_sent
from storage.purge import PurgeCounts, purge
from storage.repositories import HousekeepingRepository, MailboxRepository

from .conftest import NOW, TODAY
from .helpers import add_caseworker, store_opaque_report

RETENTION = {
    "closed_report_retention": dt.timedelta(days=30),
    "mailbox_retention": dt.timedelta(days=90),
    "delivery_retention": dt.timedelta(days=7),
}


async def _close(db: Database, report_id: bytes, closed_day: dt.date) -> None:
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(status=ReportStatus.CLOSED, closed_day=closed_day)
        )


async def _count(db: Database, column: object) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count(column))) or 0)


@pytest.mark.parametrize("batch", [1, 10_000], ids=["row-by-row", "one-batch"])
async def test_purge_removes_only_what_is_past_its_retention(db: Database, batch: int) -> None:
    caseworker_id = await add_caseworker(db, "cw-purge")
    expired = await store_opaque_report(db, caseworker_id=caseworker_id)
    await _close(db, expired.report_id, TODAY - dt.timedelta(days=30))
    recently_closed = await store_opaque_report(db)
    await _close(db, recently_closed.report_id, TODAY - dt.timedelta(days=29))
    open_long = await store_opaque_report(db, today=TODAY - dt.timedelta(days=89))
    unused_mailbox = await store_opaque_report(db, today=TODAY - dt.timedelta(days=90))
    async with db.sessionmaker() as session, session.begin():
        housekeeping = HousekeepingRepository(session)
        await housekeeping.add(target_sealed=b"due", key_version=1, deadline=NOW)
        await housekeeping.add(
            target_sealed=b"later", key_version=1, deadline=NOW + dt.timedelta(seconds=1)
        )

    counts = await purge(db, now=NOW, batch=batch, **RETENTION)

    assert dataclasses.replace(counts, compacted=True) == PurgeCounts(
        housekeeping=1, mailboxes=2, reports=1, wraps=1, deliveries=1, compacted=True
    )
    assert counts.compacted
    async with db.sessionmaker() as session:
        remaining = set((await session.scalars(select(Report.id))).all())
        with_mailbox = set((await session.scalars(select(Mailbox.report_id))).all())
        wrapped = set((await session.scalars(select(Wrap.report_id))).all())
        targets = (await session.scalars(select(Housekeeping.target_sealed))).all()
    survivors = {recently_closed.report_id, open_long.report_id, unused_mailbox.report_id}
    assert remaining == survivors
    assert wrapped == survivors
    # The reporter of an open case who never came back loses the mailbox, not the case.
    assert with_mailbox == {recently_closed.report_id, open_long.report_id}
    assert targets == [b"later"]


async def test_delivery_records_go_after_their_retention(db: Database) -> None:
    caseworker_id = await add_caseworker(db, "cw-deliveries")
    await store_opaque_report(db, caseworker_id=caseworker_id)
    [delivery] = await claim_batch(db, worker="w", now=NOW, limit=1, lease=dt.timedelta(minutes=1))
    assert await mark_sent(db, delivery.id, worker="w", now=NOW)
    not_yet = await purge(db, now=NOW + dt.timedelta(days=6), **RETENTION)
    assert not_yet.deliveries == 0
    gone = await purge(db, now=NOW + dt.timedelta(days=7), **RETENTION)
    assert gone.deliveries == 1
    assert await _count(db, OutboxEntry.id) == 0
    assert await _count(db, Report.id) == 1  # the report itself is still open


def _raw_bytes(path: Path) -> bytes:
    found = b""
    for suffix in ("", "-wal", "-journal"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            found += part.read_bytes()
    return found


@pytest.mark.parametrize(
    "vacuum_threshold",
    [
        pytest.param(0.0, id="vacuumed"),
        # Above 1 never VACUUMs: secure_delete and the WAL checkpoint alone must do it.
        pytest.param(2.0, id="not-vacuumed"),
    ],
)
async def test_purged_canaries_are_gone_from_the_sqlite_file_and_wal(
    sqlite_db: Database, vacuum_threshold: float
) -> None:
    db = sqlite_db
    assert db.sqlite_path is not None
    canary = b"CANARY-" + secrets.token_hex(12).encode()
    caseworker_id = await add_caseworker(db, "cw-canary")
    doomed = []
    for _ in range(5):
        stored = await store_opaque_report(
            db,
            caseworker_id=caseworker_id,
            body_sealed=canary + b"-body-" + secrets.token_bytes(5000),
            wraps={secrets.token_bytes(16): canary + b"-wrap"},
        )
        doomed.append(stored.report_id)
    kept = await store_opaque_report(db)  # an open report is left alone
    async with db.sessionmaker() as session, session.begin():
        mailbox = await MailboxRepository(session).get_by_report(doomed[0])
        assert mailbox is not None
        await MailboxRepository(session).add_message(
            mailbox, direction=Direction.TO_REPORTER, message_sealed=canary + b"-reply", today=TODAY
        )
        await HousekeepingRepository(session).add(
            target_sealed=canary + b"-chat", key_version=1, deadline=NOW
        )
    for report_id in doomed:
        await _close(db, report_id, TODAY - dt.timedelta(days=31))

    # The check can fail: before the purge the canary is there to be found.
    assert canary in _raw_bytes(db.sqlite_path)

    counts = await purge(db, now=NOW, vacuum_threshold=vacuum_threshold, **RETENTION)

    assert (counts.reports, counts.housekeeping, counts.compacted) == (5, 1, True)
    assert canary not in _raw_bytes(db.sqlite_path)
    wal = db.sqlite_path.with_name(db.sqlite_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert await _count(db, Report.id) == 1
    async with db.sessionmaker() as session:
        assert await session.get(Report, kept.report_id) is not None
    assert await _count(db, OutboxEntry.id) == 0  # deliveries of purged reports went too
