"""Purging what must not outlive its purpose, so that deleted means gone (DESIGN.md I2, I6).

:func:`purge` removes, in one transaction:

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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Delete, and_, delete, func, or_, select, text
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

logger = logging.getLogger(__name__)

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


async def _delete_rows(
    session: AsyncSession,
    *,
    now: dt.datetime,
    report_cutoff: dt.date,
    mailbox_cutoff: dt.date,
    delivery_cutoff: dt.datetime,
) -> PurgeCounts:
    expired_reports = select(Report.id).where(
        Report.status == ReportStatus.CLOSED, Report.closed_day <= report_cutoff
    )
    expired_mailboxes = select(Mailbox.id).where(
        or_(
            Mailbox.report_id.in_(expired_reports),
            func.coalesce(Mailbox.last_lookup_day, Mailbox.created_day) <= mailbox_cutoff,
        )
    )
    finished: ColumnElement[bool] = and_(
        OutboxEntry.status.in_((DeliveryStatus.SENT, DeliveryStatus.FAILED)),
        OutboxEntry.not_before <= delivery_cutoff,
    )
    housekeeping = await _delete(session, delete(Housekeeping).where(Housekeeping.deadline <= now))
    # Wraps go first: once they are gone the bodies are unreadable even if a copy survives.
    wraps = await _delete(session, delete(Wrap).where(Wrap.report_id.in_(expired_reports)))
    await _delete(
        session, delete(MailboxMessage).where(MailboxMessage.mailbox_id.in_(expired_mailboxes))
    )
    mailboxes = await _delete(session, delete(Mailbox).where(Mailbox.id.in_(expired_mailboxes)))
    deliveries = await _delete(
        session,
        delete(OutboxEntry).where(or_(OutboxEntry.report_id.in_(expired_reports), finished)),
    )
    await _delete(session, delete(ReportBody).where(ReportBody.report_id.in_(expired_reports)))
    reports = await _delete(session, delete(Report).where(Report.id.in_(expired_reports)))
    return PurgeCounts(
        housekeeping=housekeeping,
        mailboxes=mailboxes,
        reports=reports,
        wraps=wraps,
        deliveries=deliveries,
        compacted=False,
    )


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


async def purge(
    db: Database,
    *,
    now: dt.datetime,
    closed_report_retention: dt.timedelta,
    mailbox_retention: dt.timedelta,
    delivery_retention: dt.timedelta,
    vacuum_threshold: float = 0.25,
) -> PurgeCounts:
    """Delete everything past its deadline or retention, then make the deletion physical.

    Retentions count whole days for reports and mailboxes (their times are days, I3): a report
    closed on day D goes on the first purge on or after D + ``closed_report_retention``; a
    mailbox goes once its last look-up (or creation) is that old. SQLite is VACUUMed when at
    least ``vacuum_threshold`` of its pages are free (above 1: never; ``secure_delete`` has
    zeroed the freed pages either way). Returns counts only.
    """
    today = now.astimezone(dt.UTC).date()
    async with db.sessionmaker() as session, session.begin():
        counts = await _delete_rows(
            session,
            now=now,
            report_cutoff=today - dt.timedelta(days=closed_report_retention.days),
            mailbox_cutoff=today - dt.timedelta(days=mailbox_retention.days),
            delivery_cutoff=now - delivery_retention,
        )
    if db.backend is Backend.SQLITE:
        compacted = await _compact_sqlite(db, vacuum_threshold)
    else:
        compacted = await _vacuum_postgresql(db)
    counts = dataclasses.replace(counts, compacted=compacted)
    logger.info(
        "purge.done",
        extra={
            "housekeeping": counts.housekeeping,
            "mailboxes": counts.mailboxes,
            "reports": counts.reports,
            "wraps": counts.wraps,
            "deliveries": counts.deliveries,
            "compacted": counts.compacted,
        },
    )
    return counts
