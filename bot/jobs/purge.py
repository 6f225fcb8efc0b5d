"""The purge job: configured deadlines enforced by the scheduler, so deleted means gone (I2, I6).

Every :data:`PURGE_INTERVAL_SECONDS` (and once shortly after start) a run:

1. deletes what ``[retention]`` says has outlived its purpose, through :func:`storage.purge.purge`
   — housekeeping rows past their deadline (erased or not), mailboxes ``mailbox_days`` after
   their last look-up, closed reports ``closed_report_days`` after closing (wraps first:
   crypto-shredding), and delivery records once as old as a closed report may be — then makes
   the deletion physical (SQLite WAL checkpoint and truncate, VACUUM when worth it; PostgreSQL
   VACUUM);
2. expires enrolments no code can approve any more (:func:`bot.services.caseworkers.
   expire_enrolments`: claims older than two weeks, then pending rows left without one), so a
   flood of ``/enroll`` does not hold the bound on pending enrolments for ever;
3. destroys housekeeping keys no remaining row needs (:meth:`Housekeeping.retire_keys`), so any
   copy of an old erase target that survived anywhere is unreadable;
4. records what it removed in the audit log (counts only, one ``purge.done`` entry per run that
   removed something, so a quiet deployment's log is not an hourly list of zeros);
5. logs how many unassigned reports are older than ``unassigned_alert_days``: they are flagged,
   never deleted, and ``sanad admin status`` shows the same count.

The clock is injected (:class:`Purger` takes ``clock``), so tests walk a report past each
deadline without waiting. On PostgreSQL the purge runs on the leader only, and each of its
transactions checks the leader's epoch (``role``): a stale leader's purge is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext

from bot import metrics
from bot.config import RetentionSection
from bot.jobs import job_queue_of
from bot.leadership.fence import SINGLE_INSTANCE, Role
from bot.logs import event, get_logger
from bot.runtime import Runtime
from bot.services.caseworkers import ExpiredEnrolments, expire_enrolments
from bot.services.housekeeping import Housekeeping
from storage import audit
from storage.engine import Database
from storage.purge import PurgeCounts, purge, unassigned_since

JOB_NAME = "purge"
#: How often the purge runs. Deadlines are days (or hours for housekeeping), so an hour late is
#: at most a small fraction of any of them.
PURGE_INTERVAL_SECONDS = 3600.0
#: The first run after start, so a bot that was down catches up at once.
FIRST_RUN_SECONDS = 30.0
AUDIT_EVENT = "purge.done"

_log = get_logger("purge")

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class RetentionSettings:
    """The deadlines a purge enforces; :meth:`from_config` reads ``[retention]``."""

    closed_report: dt.timedelta
    mailbox: dt.timedelta
    unassigned_alert: dt.timedelta

    @property
    def delivery(self) -> dt.timedelta:
        """How long finished delivery records stay: as long as a closed report may."""
        return self.closed_report

    @classmethod
    def from_config(cls, retention: RetentionSection) -> RetentionSettings:
        return cls(
            closed_report=dt.timedelta(days=retention.closed_report_days),
            mailbox=dt.timedelta(days=retention.mailbox_days),
            unassigned_alert=dt.timedelta(days=retention.unassigned_alert_days),
        )


@dataclass(frozen=True)
class PurgeSummary:
    """What one run removed, destroyed and flagged (counts only)."""

    rows: PurgeCounts
    enrolments: ExpiredEnrolments
    keys_destroyed: int
    unassigned_overdue: int

    def audit_counts(self) -> dict[str, int]:
        return {
            "housekeeping": self.rows.housekeeping,
            "mailboxes": self.rows.mailboxes,
            "reports": self.rows.reports,
            "wraps": self.rows.wraps,
            "deliveries": self.rows.deliveries,
            "enrolment_claims": self.enrolments.claims,
            "pending_caseworkers": self.enrolments.caseworkers,
            "keys": self.keys_destroyed,
        }

    @property
    def removed_anything(self) -> bool:
        return any(self.audit_counts().values())


class Purger:
    """One deployment's purge: its database, its housekeeping keys and its deadlines."""

    def __init__(
        self,
        db: Database,
        housekeeping: Housekeeping,
        settings: RetentionSettings,
        *,
        role: Role = SINGLE_INSTANCE,
        clock: Clock = _utc_now,
    ) -> None:
        self._db = db
        self._housekeeping = housekeeping
        self.settings = settings
        self._role = role
        self._clock = clock

    def leading(self) -> bool:
        """Whether this process may purge now (the leader, or a process alone)."""
        return self._role.leading()

    async def run(self) -> PurgeSummary:
        """Purge everything past its deadline now, then record and log the counts."""
        now = self._clock()
        today = now.astimezone(dt.UTC).date()
        # Before the purge, whose WAL checkpoint (SQLite) then covers these deletions too.
        enrolments = await expire_enrolments(self._db, today=today, guard=self._role.check)
        rows = await purge(
            self._db,
            now=now,
            closed_report_retention=self.settings.closed_report,
            mailbox_retention=self.settings.mailbox,
            delivery_retention=self.settings.delivery,
            guard=self._role.check,
        )
        keys = await self._housekeeping.retire_keys()
        async with self._db.sessionmaker() as session, session.begin():
            await self._role.check(session)
            overdue = await unassigned_since(session, today - self.settings.unassigned_alert)
            summary = PurgeSummary(rows, enrolments, keys, overdue)
            if summary.removed_anything:
                await audit.append(session, AUDIT_EVENT, None, summary.audit_counts(), today)
        event(_log, "purge.run", compacted=int(rows.compacted), **summary.audit_counts())
        if overdue:
            event(_log, "purge.unassigned_overdue", logging.WARNING, reports=overdue)
        metrics.purge_run()
        return summary


def schedule_purge_job(
    application: Application[Any, Any, Any, Any, Any, Any], purger: Purger
) -> None:
    """Run ``purger`` from the application's JobQueue every :data:`PURGE_INTERVAL_SECONDS`."""
    job_queue = job_queue_of(application, JOB_NAME)

    async def purge_job(_context: CallbackContext[Any, Any, Any, Any]) -> None:
        if not purger.leading():
            return
        try:
            await purger.run()
        except Exception:  # the job must outlive a bad run: the next one tries again
            event(_log, "purge.run_failed", logging.WARNING)

    job_queue.run_repeating(
        purge_job, interval=PURGE_INTERVAL_SECONDS, first=FIRST_RUN_SECONDS, name=JOB_NAME
    )


def register_purge_job(
    application: Application[Any, Any, Any, Any, Any, Any],
    runtime: Runtime,
    housekeeping: Housekeeping,
    role: Role = SINGLE_INSTANCE,
) -> Purger:
    """Enforce ``runtime.config``'s retention from ``application``; for :mod:`bot.app`."""
    purger = Purger(
        runtime.database,
        housekeeping,
        RetentionSettings.from_config(runtime.config.retention),
        role=role,
    )
    schedule_purge_job(application, purger)
    return purger
