"""Storing a submitted report durably, in one transaction (DESIGN.md I8).

A receipt may be shown to a reporter only once the sealed report is committed, and a committed
report must always reach a caseworker. :func:`store_report` therefore writes the report row, its
sealed body, every wrap, the reporter's mailbox and the outbox row in a single transaction and
returns only after that commit has returned: either all of it is on disk, or none of it is.

Everything it stores arrives already sealed by ``crypto`` (the body, the wraps) or derived from
the receipt (the mailbox tag and public key); storage never sees plaintext or a receipt.

How it is fast enough (docs/BENCHMARKS.md, "Storage"). Durability costs one fsync per commit:
SQLite stays at ``synchronous=FULL`` because I8 promises a report survives power loss, not only
a crash of the process, and ``NORMAL`` in WAL mode would lose the last commits on power loss
after their receipts were shown. One fsynced commit per report caps SQLite near 250 reports a
second on this class of disk, so reports are **group committed**: concurrent calls are queued
and a single writer task (:class:`storage.engine.GroupCommit`) writes everything queued in one
transaction, each caller's await resolving only after that transaction's commit has returned.
What a reporter waits for is unchanged (their own report, durably committed); what changes is
that sixteen reporters submitting together share one fsync. A lone report is not held back
waiting for company: reports arriving while a commit is in flight form the next batch. If a
shared transaction fails, each of its reports is written again alone, so one bad report fails
only its own submission.

Within a transaction the batch is written with Core ``INSERT`` statements, one per table with
all the batch's rows (``executemany``): five statements and one case-reference look-up per
batch instead of about ten ORM flushes per report, each a round trip to aiosqlite's thread (or
to PostgreSQL). Nothing needs ``RETURNING``: the report id is the caller's and no generated id is
handed back. On SQLite there is one writer at a time anyway, so batching costs no concurrency; on
PostgreSQL the same path runs unchanged and saves round trips and WAL flushes there too, and
several bot processes each group their own reports (a case reference drawn twice across them
fails one batch at its unique constraint, and the retry alone draws afresh).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert

from storage.engine import Database
from storage.models import (
    REPORT_ID_BYTES,
    BodyKind,
    DeliveryKind,
    DeliveryStatus,
    Language,
    Mailbox,
    OutboxEntry,
    Report,
    ReportBody,
    ReportStatus,
    Wrap,
)
from storage.outbox import stored_not_before
from storage.repositories import draw_case_references

REPORT_SEQUENCE = 0  # the report's own body; addenda are 1, 2, ...


@dataclass(frozen=True)
class NewMailbox:
    """The reporter's mailbox as derived from the receipt: the peppered tag and a public key."""

    lookup_tag: bytes
    public_key: bytes
    pepper_version: int


@dataclass(frozen=True)
class StoredReport:
    """What the caller may tell the reporter once the report is committed."""

    report_id: bytes
    case_reference: str


@dataclass(frozen=True)
class _NewReport:
    """One :func:`store_report` call's arguments, checked, waiting for its batch."""

    report_id: bytes
    language: Language
    body_sealed: bytes
    wraps: Mapping[bytes, bytes]
    mailbox: NewMailbox
    today: dt.date
    assigned_caseworker_id: int | None
    deliver_not_before: dt.datetime | None


async def store_report(
    db: Database,
    *,
    report_id: bytes,
    language: Language,
    body_sealed: bytes,
    wraps: Mapping[bytes, bytes],
    mailbox: NewMailbox,
    today: dt.date,
    assigned_caseworker_id: int | None = None,
    deliver_not_before: dt.datetime | None = None,
) -> StoredReport:
    """Commit a sealed report with its wraps, mailbox and (if assigned) its delivery.

    ``report_id`` is the id the body was sealed under (``crypto.new_report_id``); ``wraps`` maps
    each recipient key id to the wrap of this body's data key, and must hold at least one, or no
    one could ever open the report. With ``assigned_caseworker_id`` the report is ``assigned``
    and an outbox row delivers it to that caseworker from ``deliver_not_before``, which should
    come from ``storage.outbox.DeliverySchedule.first_attempt`` (jittered and on the grid, I3).
    Returns after the commit that holds this report, which may also hold other callers' reports
    (see the module docstring); raises on any failure of this report with nothing of it written.
    Must not be called while the task holds an open SQLite transaction: the writer would wait
    for its lock.
    """
    if len(report_id) != REPORT_ID_BYTES:
        raise ValueError("report_id must be 16 bytes")
    if not wraps:
        raise ValueError("a report needs at least one wrap (the recovery key's)")
    if (assigned_caseworker_id is None) != (deliver_not_before is None):
        raise ValueError("an assigned report needs deliver_not_before, and only then")
    report = _NewReport(
        report_id=report_id,
        language=language,
        body_sealed=body_sealed,
        wraps=dict(wraps),  # a snapshot: the caller's mapping may change before the batch runs
        mailbox=mailbox,
        today=today,
        assigned_caseworker_id=assigned_caseworker_id,
        deliver_not_before=deliver_not_before,
    )
    return await db.group_commit(_write_reports).submit(report)


def _write_reports(connection: Connection, reports: Sequence[_NewReport]) -> list[StoredReport]:
    """Insert a batch of reports in the caller's transaction; the group commit commits it.

    Parents before children (reports, bodies, wraps; then mailboxes and deliveries, which refer
    to reports), because PostgreSQL checks each foreign key at the end of its statement.
    """
    references = draw_case_references(connection, len(reports))
    connection.execute(
        insert(Report),
        [
            {
                "id": r.report_id,
                "case_reference": reference,
                "status": (
                    ReportStatus.RECEIVED
                    if r.assigned_caseworker_id is None
                    else ReportStatus.ASSIGNED
                ),
                "language": r.language,
                "assigned_caseworker_id": r.assigned_caseworker_id,
                "created_day": r.today,  # I3: a day, never a time
                "closed_day": None,
                "next_sequence": REPORT_SEQUENCE + 1,
            }
            for r, reference in zip(reports, references, strict=True)
        ],
    )
    connection.execute(
        insert(ReportBody),
        [
            {
                "report_id": r.report_id,
                "sequence": REPORT_SEQUENCE,
                "kind": BodyKind.REPORT,
                "body_sealed": r.body_sealed,
                "created_day": r.today,
            }
            for r in reports
        ],
    )
    connection.execute(
        insert(Wrap),
        [
            {
                "report_id": r.report_id,
                "sequence": REPORT_SEQUENCE,
                "recipient_key_id": key_id,
                "wrap": wrap,
            }
            for r in reports
            for key_id, wrap in r.wraps.items()
        ],
    )
    connection.execute(
        insert(Mailbox),
        [
            {
                "report_id": r.report_id,
                "lookup_tag": r.mailbox.lookup_tag,
                "public_key": r.mailbox.public_key,
                "pepper_version": r.mailbox.pepper_version,
                "last_lookup_day": None,
                "created_day": r.today,
            }
            for r in reports
        ],
    )
    # A pending delivery as storage.outbox.enqueue makes one, for the whole batch at once; its
    # random id (like the mailbox's) is drawn by the column's Python default, row by row (I3).
    deliveries = [
        {
            "kind": DeliveryKind.REPORT,
            "caseworker_id": r.assigned_caseworker_id,
            "report_id": r.report_id,
            "sequence": REPORT_SEQUENCE,
            "not_before": stored_not_before(r.deliver_not_before),
            "attempts": 0,
            "status": DeliveryStatus.PENDING,
        }
        for r in reports
        # Both or neither (checked by store_report); the second names the time for the checker.
        if r.assigned_caseworker_id is not None and r.deliver_not_before is not None
    ]
    if deliveries:
        connection.execute(insert(OutboxEntry), deliveries)
    return [
        StoredReport(report_id=r.report_id, case_reference=reference)
        for r, reference in zip(reports, references, strict=True)
    ]
