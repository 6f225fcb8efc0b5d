"""The report service: one transaction, all or nothing, and nothing readable left in any column."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from sqlalchemy import LargeBinary, String, Text, select
from sqlalchemy.exc import IntegrityError

from crypto import (
    Answer,
    Attachment,
    AttachmentKind,
    EnvelopeKind,
    ReportBody,
    Wrap,
    new_report_id,
    open_report,
    seal_report,
)
from crypto.keys import X25519SecretKey
from storage.engine import Database
from storage.models import (
    Base,
    CaseworkerStatus,
    DeliveryStatus,
    Direction,
    Language,
    Mailbox,
    OutboxEntry,
    Report,
    ReportStatus,
)
from storage.reports import store_report
from storage.repositories import (
    CASE_REFERENCE_ALPHABET,
    CaseworkerRepository,
    MailboxRepository,
    ReportRepository,
    new_case_reference,
    normalise_case_reference,
)

from .conftest import NOW, TODAY
from .helpers import add_caseworker, new_mailbox, store_opaque_report

CASE_REFERENCE = re.compile(f"[{CASE_REFERENCE_ALPHABET}]{{3}}-[{CASE_REFERENCE_ALPHABET}]{{4}}")


async def _row_counts(db: Database) -> dict[str, int]:
    async with db.sessionmaker() as session:
        counts = {}
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            counts[table.name] = len(rows)
    return counts


async def test_report_body_wraps_mailbox_and_delivery_commit_together(db: Database) -> None:
    caseworker_id = await add_caseworker(db, "cw-a")
    wraps = {secrets.token_bytes(16): secrets.token_bytes(80) for _ in range(2)}
    mailbox = new_mailbox()
    report_id = new_report_id()
    stored = await store_report(
        db,
        report_id=report_id,
        language=Language.FR,
        body_sealed=b"sealed-body",
        wraps=wraps,
        mailbox=mailbox,
        today=TODAY,
        assigned_caseworker_id=caseworker_id,
        deliver_not_before=NOW,
    )
    assert stored.report_id == report_id
    assert CASE_REFERENCE.fullmatch(stored.case_reference)
    # A fresh session sees everything: it was committed before store_report returned.
    async with db.sessionmaker() as session:
        reports = ReportRepository(session)
        report = await reports.get_by_case_reference(stored.case_reference.lower())
        assert report is not None
        assert (report.id, report.status, report.language) == (
            report_id,
            ReportStatus.ASSIGNED,
            Language.FR,
        )
        assert (report.created_day, report.next_sequence) == (TODAY, 1)
        body = await reports.get_body(report_id, 0)
        assert body is not None
        assert body.body_sealed == b"sealed-body"
        stored_wraps = await reports.wraps_of(report_id, 0)
        assert {w.recipient_key_id: w.wrap for w in stored_wraps} == wraps
        found = await MailboxRepository(session).get_by_lookup_tag(mailbox.lookup_tag)
        assert found is not None
        assert (found.report_id, found.public_key) == (report_id, mailbox.public_key)
        [delivery] = (await session.scalars(select(OutboxEntry))).all()
        assert (delivery.report_id, delivery.sequence, delivery.status) == (
            report_id,
            0,
            DeliveryStatus.PENDING,
        )


async def test_unassigned_report_waits_without_a_delivery(db: Database) -> None:
    stored = await store_opaque_report(db)
    async with db.sessionmaker() as session:
        report = await session.get(Report, stored.report_id)
        assert report is not None
        assert report.status is ReportStatus.RECEIVED
        assert (await session.scalars(select(OutboxEntry))).all() == []


async def test_failure_after_the_body_and_wraps_leaves_no_rows(db: Database) -> None:
    caseworker_id = await add_caseworker(db, "cw-fail")
    taken = new_mailbox()
    await store_opaque_report(db, mailbox=taken)
    before = await _row_counts(db)
    # The mailbox insert comes after the report, its body and its wraps: its unique lookup tag
    # fails the transaction late, when everything else of the report has been written.
    with pytest.raises(IntegrityError):
        await store_opaque_report(db, caseworker_id=caseworker_id, mailbox=taken)
    assert await _row_counts(db) == before


async def test_report_needs_a_wrap_and_a_16_byte_id(db: Database) -> None:
    before = await _row_counts(db)  # the schema's own rows (the leadership singleton)
    with pytest.raises(ValueError, match="wrap"):
        await store_opaque_report(db, wraps={})
    with pytest.raises(ValueError, match="16 bytes"):
        await store_report(
            db,
            report_id=b"short",
            language=Language.EN,
            body_sealed=b"x",
            wraps={b"k" * 16: b"w"},
            mailbox=new_mailbox(),
            today=TODAY,
        )
    assert await _row_counts(db) == before


def _text_and_blob_values(row: Any, columns: list[Any]) -> list[bytes]:
    values = []
    for column in columns:
        value = getattr(row, column.name)
        if isinstance(value, str):
            values.append(value.encode("utf-8"))
        elif isinstance(value, bytes):
            values.append(value)
    return values


async def test_sealed_report_leaves_no_plaintext_in_any_column(db: Database) -> None:
    canaries = [
        "CANARY-answer-7f3a صديقي",
        "CANARY-link-https://facebook.example/p/91c2",
        "CANARY-file-name-4d1e.jpg",
    ]
    evidence = b"CANARY-evidence-bytes-" + secrets.token_bytes(8)
    caseworker_key = X25519SecretKey.generate()
    recovery_key = X25519SecretKey.generate()
    mailbox_key = X25519SecretKey.generate()
    caseworker_id = await add_caseworker(db, "cw-canary")
    report_id = new_report_id()
    body = ReportBody(
        [Answer("what_happened", canaries[0]), Answer("links", canaries[1])],
        [Attachment(canaries[2], "image/jpeg", AttachmentKind.PHOTO, evidence)],
    )
    sealed = seal_report(
        body.to_bytes(),
        report_id=report_id,
        sequence=0,
        kind=EnvelopeKind.REPORT,
        recipients=[caseworker_key.public_key, recovery_key.public_key],
        reply_to=mailbox_key.public_key,
    )
    stored = await store_report(
        db,
        report_id=report_id,
        language=Language.AR,
        body_sealed=sealed.body_sealed,
        wraps={w.key_id: w.wrap for w in sealed.wraps},
        mailbox=new_mailbox(),
        today=TODAY,
        assigned_caseworker_id=caseworker_id,
        deliver_not_before=NOW,
    )
    async with db.sessionmaker() as session, session.begin():
        mailbox = await session.scalar(select(Mailbox))
        assert mailbox is not None
        await MailboxRepository(session).add_message(
            mailbox,
            direction=Direction.FROM_REPORTER,
            message_sealed=sealed.body_sealed,
            today=TODAY,
        )

    needles = [c.encode("utf-8") for c in canaries] + [evidence]
    scanned = 0
    async with db.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | LargeBinary)]
            for row in (await session.execute(select(table))).all():
                for value in _text_and_blob_values(row, columns):
                    scanned += 1
                    for needle in needles:
                        assert needle not in value, (table.name, needle)
        # The scan saw the sealed body, and what it stored still opens for the caseworker.
        reports = ReportRepository(session)
        stored_body = await reports.get_body(stored.report_id, 0)
        stored_wrap = await reports.get_wrap(stored.report_id, 0, caseworker_key.public_key.key_id)
    assert stored_body is not None
    assert stored_wrap is not None
    assert scanned >= 10
    opened = open_report(
        stored_body.body_sealed,
        Wrap(stored_wrap.recipient_key_id, stored_wrap.wrap),
        report_id=stored.report_id,
        sequence=0,
        kind=EnvelopeKind.REPORT,
        secret_key=caseworker_key,
        reply_to=mailbox_key.public_key,
    )
    assert ReportBody.from_bytes(opened).answer("what_happened") == canaries[0]


def test_case_references_are_random_and_unambiguous() -> None:
    references = {new_case_reference() for _ in range(2000)}
    assert len(references) == 2000
    for reference in references:
        assert CASE_REFERENCE.fullmatch(reference)
    assert not set(CASE_REFERENCE_ALPHABET) & set("01ILOU")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("K7Q-4M2P", "K7Q-4M2P"),
        ("k7q4m2p", "K7Q-4M2P"),
        (" k7q - 4m 2p ", "K7Q-4M2P"),
        ("K7Q-4M2", None),
        ("K7Q-4M2PX", None),
        ("K0Q-4M2P", None),  # 0 is not in the alphabet
        ("", None),
    ],
)
def test_typed_case_reference_is_normalised(typed: str, expected: str | None) -> None:
    assert normalise_case_reference(typed) == expected


async def test_mailbox_messages_take_consecutive_sequences(db: Database) -> None:
    stored = await store_opaque_report(db)
    async with db.sessionmaker() as session, session.begin():
        mailboxes = MailboxRepository(session)
        mailbox = await mailboxes.get_by_report(stored.report_id)
        assert mailbox is not None
        for direction in (Direction.TO_REPORTER, Direction.FROM_REPORTER, Direction.TO_REPORTER):
            await mailboxes.add_message(
                mailbox, direction=direction, message_sealed=b"m", today=TODAY, signature=b"s"
            )
    async with db.sessionmaker() as session:
        mailboxes = MailboxRepository(session)
        mailbox = await mailboxes.get_by_report(stored.report_id)
        assert mailbox is not None
        messages = await mailboxes.messages(mailbox)
    assert [(m.sequence, m.direction) for m in messages] == [
        (0, Direction.TO_REPORTER),
        (1, Direction.FROM_REPORTER),
        (2, Direction.TO_REPORTER),
    ]


async def test_lookups_by_unknown_keys_return_none(db: Database) -> None:
    async with db.sessionmaker() as session:
        assert await ReportRepository(session).get(new_report_id()) is None
        assert await ReportRepository(session).get_by_case_reference("nonsense") is None
        assert await MailboxRepository(session).get_by_lookup_tag(b"\0" * 32) is None


async def test_caseworker_starts_pending_and_is_found_by_label_and_key_id(db: Database) -> None:
    caseworker_id = await add_caseworker(db, "cw-lookup")
    async with db.sessionmaker() as session:
        caseworkers = CaseworkerRepository(session)
        caseworker = await caseworkers.get_by_label("cw-lookup")
        assert caseworker is not None
        assert caseworker.id == caseworker_id
        assert (caseworker.status, caseworker.certificate) == (CaseworkerStatus.PENDING, None)
        by_key = await caseworkers.get_by_encryption_key_id(caseworker.encryption_key_id)
        assert by_key is not None
        assert by_key.id == caseworker_id
        assert await caseworkers.get_by_label("cw-unknown") is None


async def test_caseworker_labels_are_unique(db: Database) -> None:
    await add_caseworker(db, "cw-twice")
    with pytest.raises(IntegrityError):
        await add_caseworker(db, "cw-twice")
