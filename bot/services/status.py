"""What ``sanad admin status`` reports: counts and deadlines, nothing identifying.

One read-only transaction gathers how many reports are in each state, the deliveries still owed
and those given up (by error class), caseworkers by state, and the earliest retention deadlines
(DESIGN.md §6, I6). Nothing here names a case, a caseworker or a chat.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select

from bot.config import Config
from bot.jobs.purge import RetentionSettings
from storage.engine import Database
from storage.models import (
    Caseworker,
    CaseworkerStatus,
    DeliveryStatus,
    OutboxEntry,
    Report,
    ReportStatus,
)
from storage.purge import Deadlines, next_deadlines, unassigned_since


@dataclass(frozen=True)
class Status:
    """Everything ``sanad admin status`` shows: counts and deadlines, nothing identifying."""

    reports: Mapping[str, int]
    unassigned_overdue: int
    pending: int
    retrying: Mapping[str, int]
    failed: Mapping[str, int]
    caseworkers: Mapping[str, int]
    deadlines: Deadlines


async def gather_status(db: Database, config: Config, now: dt.datetime) -> Status:
    """Read the counts and the earliest deadlines, in one read-only transaction."""
    retention = RetentionSettings.from_config(config.retention)
    today = now.astimezone(dt.UTC).date()
    async with db.sessionmaker() as session, session.begin():
        reports = {
            state: count
            for state, count in await session.execute(
                select(Report.status, func.count()).group_by(Report.status)
            )
        }
        caseworkers = {
            state: count
            for state, count in await session.execute(
                select(Caseworker.status, func.count()).group_by(Caseworker.status)
            )
        }
        deliveries = (
            await session.execute(
                select(OutboxEntry.status, OutboxEntry.last_error, func.count())
                .where(OutboxEntry.status != DeliveryStatus.SENT)
                .group_by(OutboxEntry.status, OutboxEntry.last_error)
            )
        ).all()
        overdue = await unassigned_since(session, today - retention.unassigned_alert)
        deadlines = await next_deadlines(
            session,
            closed_report_retention=retention.closed_report,
            mailbox_retention=retention.mailbox,
        )
    retrying: dict[str, int] = {}
    failed: dict[str, int] = {}
    pending = 0
    for status, error, count in deliveries:
        if status is DeliveryStatus.PENDING:
            pending += count
            if error is not None:  # pending after a failed attempt: waiting to retry
                retrying[error] = retrying.get(error, 0) + count
        else:
            failed[error or "unknown"] = failed.get(error or "unknown", 0) + count
    return Status(
        reports={s.value: reports.get(s, 0) for s in ReportStatus},
        unassigned_overdue=overdue,
        pending=pending,
        retrying=retrying,
        failed=failed,
        caseworkers={s.value: caseworkers.get(s, 0) for s in CaseworkerStatus},
        deadlines=deadlines,
    )
