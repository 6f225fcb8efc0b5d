"""Sending failed deliveries again, once their cause is gone (``sanad admin redeliver``).

The forward job gives a delivery up as ``failed`` when Telegram refuses it for good (the
caseworker blocked the bot, a proxy's body limit answered 413, ...) or after
``delivery.max_attempts`` network errors. Once the admin has removed the cause, the row is made
pending again with fresh attempts (:func:`storage.outbox.requeue_failed`) and the next forward
run sends it like any other; nothing is sent from here.

Which rows go back, in one transaction:

- only those whose caseworker the forward job would send to today: the same verdict
  (:func:`bot.services.caseworkers.eligible_caseworkers_among`, I4/I9, revocations at or above
  the high-water mark). The others stay failed and are counted: their cases need
  ``sanad admin reassign``;
- never a file the caseworker already has or is about to get (I8): a row whose caseworker,
  report and sequence have another row sent or pending stays failed, and of several failed rows
  for one file only one goes back.

One at a time with the commands that queue a case's files for a caseworker (``sanad admin
reassign``, ``--all-from``, ``sanad admin rewrap``): on PostgreSQL the transaction starts by
taking :data:`storage.locks.CASE_DELIVERIES`, as theirs do. Under READ COMMITTED a reassignment
back to the same caseworker could otherwise commit its pending row after this transaction looked
for one and before it requeued, and the file would be queued twice. SQLite has one writer.

What a failed row says about the file (I8). A refusal (``Forbidden``, ``BadRequest``,
``ChatMigrated``, ``UploadTooLarge``) and a delivery never built took nothing: the file did not
go. A row failed on network errors may have gone: an upload can take effect with its answer lost.
Such a row is requeued all the same, as the forward job retries a network error itself: Telegram
has no idempotency key, so the file can arrive once more, the repeat I8 allows, carrying the same
case reference and sequence number, and ``sanad caseworker open`` says it repeats. A failure
between two parts of a large file sends every part again, as a retry does, and a part given twice
counts once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.services.caseworkers import UnknownCase, eligible_caseworkers_among
from crypto.keys import Ed25519PublicKey
from storage import audit, locks, outbox
from storage.engine import Database
from storage.repositories import ReportRepository


@dataclass(frozen=True)
class Redelivery:
    """What a requeue did, in counts: nothing names a case, a caseworker or a chat."""

    requeued: int
    not_eligible: int  # left failed: the caseworker may not receive (reassign the case)
    already_delivered: int  # left failed: the same file was sent, or is on its way, to them


async def redeliver_failed(
    db: Database,
    *,
    org_public: Ed25519PublicKey,
    today: dt.date,
    now: dt.datetime,
    min_serial: int = 0,
    error_class: str | None = None,
    case_reference: str | None = None,
) -> Redelivery:
    """Put failed deliveries back in the outbox: every one, those of ``error_class``, or those
    of case ``case_reference``; the next forward run sends them.

    ``org_public`` is the pinned key and ``min_serial`` the revocation high-water mark, as the
    forward job has them. Raises :class:`UnknownCase` for a reference no case has, and
    ``RevocationsRolledBack`` as the forward job would. Records an audit entry (counts only).
    Commits.
    """
    async with db.sessionmaker() as session, session.begin():
        # First, before the audit append lock (storage.locks, "Lock order"): no reassignment or
        # key rotation can queue a file between the check for a sent or pending copy and the
        # requeue.
        await locks.take(session, locks.CASE_DELIVERIES)
        report_id = None
        if case_reference is not None:
            report = await ReportRepository(session).get_by_case_reference(case_reference)
            if report is None:
                raise UnknownCase("no case has this reference")
            report_id = report.id
        failed = await outbox.failed_deliveries(
            session, error_class=error_class, report_id=report_id
        )
        eligible = {
            r.caseworker_id
            for r in await eligible_caseworkers_among(
                session,
                {row.caseworker_id for row in failed},
                org_public,
                today,
                min_serial=min_serial,
            )
        }
        taken = await outbox.settled_or_owed(session, failed)
        chosen: list[int] = []
        not_eligible = already_delivered = 0
        for row in failed:
            file = (row.caseworker_id, row.report_id, row.sequence)
            if row.caseworker_id not in eligible:
                not_eligible += 1
            elif file in taken:
                already_delivered += 1
            else:
                taken.add(file)
                chosen.append(row.id)
        done = Redelivery(
            await outbox.requeue_failed(session, chosen, now=now),
            not_eligible,
            already_delivered,
        )
        await audit.append(
            session,
            "delivery.requeued",
            None,
            {
                "requeued": done.requeued,
                "not_eligible": done.not_eligible,
                "already_delivered": done.already_delivered,
            },
            today,
        )
        return done
