"""Storing a submitted report durably, in one transaction (DESIGN.md I8).

A receipt may be shown to a reporter only once the sealed report is committed, and a committed
report must always reach a caseworker. :func:`store_report` therefore writes the report row, its
sealed body, every wrap, the reporter's mailbox and the outbox row in a single transaction and
returns only after that commit has returned: either all of it is on disk, or none of it is.

Everything it stores arrives already sealed by ``crypto`` (the body, the wraps) or derived from
the receipt (the mailbox tag and public key); storage never sees plaintext or a receipt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from storage import outbox
from storage.engine import Database
from storage.models import REPORT_ID_BYTES, BodyKind, DeliveryKind, Language
from storage.repositories import MailboxRepository, ReportRepository

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
    and an outbox row delivers it to that caseworker from ``deliver_not_before`` (which carries
    the batching delay, I3). Returns after the commit; raises on any failure with nothing
    written.
    """
    if len(report_id) != REPORT_ID_BYTES:
        raise ValueError("report_id must be 16 bytes")
    if not wraps:
        raise ValueError("a report needs at least one wrap (the recovery key's)")
    if (assigned_caseworker_id is None) != (deliver_not_before is None):
        raise ValueError("an assigned report needs deliver_not_before, and only then")
    async with db.sessionmaker() as session, session.begin():
        reports = ReportRepository(session)
        report = await reports.add(
            report_id=report_id,
            language=language,
            today=today,
            assigned_caseworker_id=assigned_caseworker_id,
        )
        await reports.add_body(
            report_id=report_id,
            sequence=REPORT_SEQUENCE,
            kind=BodyKind.REPORT,
            body_sealed=body_sealed,
            wraps=wraps,
            today=today,
        )
        await MailboxRepository(session).add(
            report_id=report_id,
            lookup_tag=mailbox.lookup_tag,
            public_key=mailbox.public_key,
            pepper_version=mailbox.pepper_version,
            today=today,
        )
        if assigned_caseworker_id is not None and deliver_not_before is not None:
            await outbox.enqueue(
                session,
                kind=DeliveryKind.REPORT,
                caseworker_id=assigned_caseworker_id,
                report_id=report_id,
                sequence=REPORT_SEQUENCE,
                not_before=deliver_not_before,
            )
        case_reference = report.case_reference
    # Leaving the ``begin()`` block committed; only now may a receipt be shown (I8).
    return StoredReport(report_id=report_id, case_reference=case_reference)
