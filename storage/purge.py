"""Purging what must not outlive its purpose, so that deleted means gone (DESIGN.md I2, I6).

:func:`purge` removes, in batches of a transaction each:

- housekeeping rows past their deadline (sealed chat and message ids, I2);
- mailboxes unused for longer than their retention (with their sealed messages), so a seized
  receipt eventually opens nothing;
- closed reports past retention: their wraps first (without a wrap no one can open a body:
  crypto-shredding), then their bodies, mailbox, deliveries and the report row;
- delivery records that were sent or failed longer ago than their retention.

Then it makes the deletion physical where the backend allows. SQLite already overwrites deleted
cells with zeros (``secure_delete``), but copies of the pages sit in the WAL until a checkpoint,
so the WAL is checkpointed and truncated, and the file is VACUUMed when much of it is free.
PostgreSQL does not overwrite dead tuples; a plain ``VACUUM`` of the touched tables lets their
space be reused, and what stays on disk until then is sealed data whose wraps are gone. That
limit is stated, not hidden: at-rest protection on PostgreSQL also relies on disk encryption.

Only counts are returned and logged, never ids.

:func:`next_deadlines` and :func:`unassigned_since` answer ``sanad admin status`` with the same
rules: when the next row of each kind falls due, and how many reports wait for a caseworker.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import Delete, ScalarSelect, delete, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.engine import Backend, Database
from storage.errors import StorageError
from storage.models import (
    DeliveryStatus,
    Housekeeping,
    Mailbox,
    MailboxMessage,
    OutboxEntry,
    Report,
    ReportBody,
    ReportStatus,
    Wrap,
)

# Under "sanad." so the bot's log filter keeps the event name (storage does not import bot/).
logger = logging.getLogger("sanad.storage.purge")

# Tables a purge deletes from, for PostgreSQL's VACUUM.
_TOUCHED_TABLES = (
    "wraps",
    "report_bodies",
    "mailbox_messages",
    "mailboxes",
    "outbox",
    "reports",
    "housekeeping",
)

# SQLite's page cache while a purge batch runs, in KiB (its default is 2,000): large enough that
# the index pages a batch touches are changed in memory and written once at commit rather than
# spilled to the WAL and rewritten. Restored after each batch, since the connection is pooled.
_PURGE_CACHE_KIB = 65_536


@dataclass(frozen=True)
class PurgeCounts:
    """How many rows of each kind a purge removed, and whether the freed space was compacted."""

    housekeeping: int
    mailboxes: int
    reports: int
    wraps: int
    deliveries: int
    compacted: bool


async def _delete(session: AsyncSession, statement: Delete) -> int:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class _Tally:
    housekeeping: int = 0
    mailboxes: int = 0
    reports: int = 0
    wraps: int = 0
    deliveries: int = 0


def _expired_reports(cutoff: dt.date, batch: int, backend: Backend) -> ScalarSelect[bytes]:
    """The ids of the next ``batch`` expired closed reports, as a subquery for ``IN``.

    The ids never travel through Python: each statement of the batch names them with this same
    subquery (ten thousand bound parameters per statement cost seconds per purge). On SQLite the
    order is the ``closed_day`` index's own, (day, rowid), so no sort, and rowid order is the
    order reports were inserted in, with their bodies, wraps, mailbox and delivery in the same
    transaction: a batch then frees neighbouring pages of every table instead of touching every
    page of each, which more than halved the bytes a purge writes (docs/BENCHMARKS.md).
    """
    physical = literal_column("reports.rowid") if backend is Backend.SQLITE else Report.id
    return (
        select(Report.id)
        .where(Report.status == ReportStatus.CLOSED, Report.closed_day <= cutoff)
        .order_by(Report.closed_day, physical)
        .limit(batch)
        .scalar_subquery()
    )


async def _purge_report_batch(
    session: AsyncSession, tally: _Tally, cutoff: dt.date, batch: int, backend: Backend
) -> bool:
    """Delete up to ``batch`` expired closed reports with everything hanging off them.

    Returns whether a full batch was found (so there may be more). The subquery is evaluated by
    each statement; the reports it names stay put until the last one deletes them. On SQLite no
    other writer runs inside the transaction, so every statement names the same reports. On
    PostgreSQL a concurrent purge can change the set between statements; any report the last
    statement deletes whose children an earlier one missed loses them by ``ON DELETE CASCADE``,
    so only the counts can be short, never the deletion.
    """
    expired = _expired_reports(cutoff, batch, backend)
    # Wraps go first: once they are gone the bodies are unreadable even if a copy survives.
    tally.wraps += await _delete(session, delete(Wrap).where(Wrap.report_id.in_(expired)))
    await _delete(
        session,
        delete(MailboxMessage).where(
            MailboxMessage.mailbox_id.in_(select(Mailbox.id).where(Mailbox.report_id.in_(expired)))
        ),
    )
    tally.mailboxes += await _delete(session, delete(Mailbox).where(Mailbox.report_id.in_(expired)))
    tally.deliveries += await _delete(
        session, delete(OutboxEntry).where(OutboxEntry.report_id.in_(expired))
    )
    await _delete(session, delete(ReportBody).where(ReportBody.report_id.in_(expired)))
    reports = await _delete(session, delete(Report).where(Report.id.in_(expired)))
    tally.reports += reports
    return reports == batch


async def _purge_mailbox_batch(
    session: AsyncSession, tally: _Tally, cutoff: dt.date, batch: int, _backend: Backend
) -> bool:
    """Delete up to ``batch`` mailboxes unused since ``cutoff``, with their messages."""
    last_used = func.coalesce(Mailbox.last_lookup_day, Mailbox.created_day)
    ids = (
        await session.scalars(
            select(Mailbox.id).where(last_used <= cutoff).order_by(Mailbox.id).limit(batch)
        )
    ).all()
    if not ids:
        return False
    await _delete(session, delete(MailboxMessage).where(MailboxMessage.mailbox_id.in_(ids)))
    tally.mailboxes += await _delete(session, delete(Mailbox).where(Mailbox.id.in_(ids)))
    return len(ids) == batch


async def _purge_small_rows(
    session: AsyncSession, tally: _Tally, now: dt.datetime, delivery_cutoff: dt.datetime
) -> None:
    tally.housekeeping += await _delete(
        session, delete(Housekeeping).where(Housekeeping.deadline <= now)
    )
    tally.deliveries += await _delete(
        session,
        delete(OutboxEntry).where(
            OutboxEntry.status.in_((DeliveryStatus.SENT, DeliveryStatus.FAILED)),
            OutboxEntry.not_before <= delivery_cutoff,
        ),
    )


@asynccontextmanager
async def _large_cache(session: AsyncSession, db: Database) -> AsyncIterator[None]:
    """On SQLite, run the block with a page cache of ``_PURGE_CACHE_KIB``, then restore it."""
    if db.backend is not Backend.SQLITE:
        yield
        return
    before = int((await session.execute(text("PRAGMA cache_size"))).scalar_one())
    await session.execute(text(f"PRAGMA cache_size=-{_PURGE_CACHE_KIB}"))  # a constant
    try:
        yield
    finally:
        await session.execute(text(f"PRAGMA cache_size={before}"))  # read back from SQLite


async def _compact_sqlite(db: Database, vacuum_threshold: float) -> bool:
    async with db.sessionmaker() as session, session.begin():
        free_pages = int((await session.execute(text("PRAGMA freelist_count"))).scalar_one())
        total_pages = int((await session.execute(text("PRAGMA page_count"))).scalar_one())
    if total_pages and free_pages / total_pages >= vacuum_threshold:
        await db.run_outside_transaction("VACUUM")
    # VACUUM itself writes through the WAL, so the checkpoint comes last. Its first column is 1
    # when readers kept it from finishing; the next purge will try again.
    row = await db.run_outside_transaction("PRAGMA wal_checkpoint(TRUNCATE)")
    return row is not None and row[0] == 0


async def _vacuum_postgresql(db: Database) -> bool:
    try:
        for table in _TOUCHED_TABLES:
            await db.run_outside_transaction(f"VACUUM {table}")  # fixed table names, no input
    except StorageError:
        # Not the table owner, or VACUUM disallowed: the rows are deleted all the same.
        logger.warning("purge.vacuum_refused")
        return False
    return True


#: Run first in each of the purge's transactions; raises to refuse it (see :func:`purge`).
Guard = Callable[[AsyncSession], Awaitable[None]]


async def purge(
    db: Database,
    *,
    now: dt.datetime,
    closed_report_retention: dt.timedelta,
    mailbox_retention: dt.timedelta,
    delivery_retention: dt.timedelta,
    vacuum_threshold: float = 0.25,
    batch: int = 10_000,
    guard: Guard | None = None,
) -> PurgeCounts:
    """Delete everything past its deadline or retention, then make the deletion physical.

    Retentions count whole days for reports and mailboxes (their times are days, I3): a report
    closed on day D goes on the first purge on or after D + ``closed_report_retention``; a
    mailbox goes once its last look-up (or creation) is that old. SQLite is VACUUMed when at
    least ``vacuum_threshold`` of its pages are free (above 1: never; ``secure_delete`` has
    zeroed the freed pages either way). Rows go in transactions of at most ``batch`` reports or
    mailboxes; each removes a report's wraps before its body. Returns counts only.

    ``guard`` runs first in every transaction and may raise to refuse it (the leader's epoch
    check, ``storage.leadership.check_epoch``): the purge stops there, rolled back.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    today = now.astimezone(dt.UTC).date()
    report_cutoff = today - dt.timedelta(days=closed_report_retention.days)
    mailbox_cutoff = today - dt.timedelta(days=mailbox_retention.days)
    tally = _Tally()
    # Batches of their own transactions: other writers (report submissions) get the lock between
    # batches, and the WAL stays bounded. Each batch rewrites the index pages it touches, so fewer,
    # larger batches write less (100,000 reports: 2.3 GB at 10,000 a batch, 1.5 GB at 25,000, 1.1
    # GB in one), but a batch of 10,000 already holds the lock for about a second.
    for purge_batch, cutoff in (
        (_purge_report_batch, report_cutoff),
        (_purge_mailbox_batch, mailbox_cutoff),
    ):
        more = True
        while more:
            async with db.sessionmaker() as session, session.begin(), _large_cache(session, db):
                if guard is not None:
                    await guard(session)
                more = await purge_batch(session, tally, cutoff, batch, db.backend)
    async with db.sessionmaker() as session, session.begin():
        if guard is not None:
            await guard(session)
        await _purge_small_rows(session, tally, now, now - delivery_retention)
    if db.backend is Backend.SQLITE:
        compacted = await _compact_sqlite(db, vacuum_threshold)
    else:
        compacted = await _vacuum_postgresql(db)
    # Counts are logged and audited by the purge job, which knows the whole run.
    return PurgeCounts(**dataclasses.asdict(tally), compacted=compacted)


@dataclass(frozen=True)
class Deadlines:
    """When the earliest row of each kind is due for purging (None: no row of that kind)."""

    housekeeping: dt.datetime | None
    closed_report: dt.date | None
    mailbox: dt.date | None


async def next_deadlines(
    session: AsyncSession,
    *,
    closed_report_retention: dt.timedelta,
    mailbox_retention: dt.timedelta,
) -> Deadlines:
    """The earliest deadline of each kind, by the rules :func:`purge` applies.

    A closed report is due ``closed_report_retention`` whole days after its closing day, a
    mailbox ``mailbox_retention`` days after its last look-up (or its creation). A deadline
    already past means the next purge removes the row.
    """
    housekeeping = await session.scalar(select(func.min(Housekeeping.deadline)))
    closed = await session.scalar(
        select(func.min(Report.closed_day)).where(Report.status == ReportStatus.CLOSED)
    )
    last_used = await session.scalar(
        select(func.min(func.coalesce(Mailbox.last_lookup_day, Mailbox.created_day)))
    )
    return Deadlines(
        housekeeping=housekeeping,
        closed_report=(
            None if closed is None else closed + dt.timedelta(days=closed_report_retention.days)
        ),
        mailbox=(
            None if last_used is None else last_used + dt.timedelta(days=mailbox_retention.days)
        ),
    )


async def unassigned_since(session: AsyncSession, cutoff: dt.date) -> int:
    """How many reports received on or before ``cutoff`` still have no caseworker.

    These are flagged to admins, never deleted: an unanswered report is a failure to fix.
    """
    count = await session.scalar(
        select(func.count()).where(
            Report.status == ReportStatus.RECEIVED,
            Report.assigned_caseworker_id.is_(None),
            Report.created_day <= cutoff,
        )
    )
    return int(count or 0)
