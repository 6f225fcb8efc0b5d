"""Reassignment: a case becomes readable by the new caseworker, and only by them (and recovery).

The report is sealed and stored as the submission service does it: through ``crypto`` and
``storage.reports``, with real keys, so the test opens real ciphertext afterwards.
"""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from sqlalchemy import select

from bot.services import caseworkers as service
from crypto import EnvelopeKind, NotForThisKey, Wrap, new_report_id, open_report, seal_report
from crypto.keys import CaseworkerKeys, OrganisationKeys, X25519PublicKey, X25519SecretKey
from storage.engine import Database
from storage.models import (
    AuditEntry,
    BodyKind,
    Language,
    OutboxEntry,
    Report,
    ReportStatus,
)
from storage.models import Wrap as WrapRow
from storage.reports import NewMailbox, StoredReport, store_report
from storage.repositories import ReportRepository

from .conftest import TODAY, approved, enrolled

NOW = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)


def _mailbox() -> NewMailbox:
    return NewMailbox(secrets.token_bytes(32), X25519SecretKey.generate().public_key.raw, 1)


async def store_sealed_report(
    db: Database,
    body: bytes,
    recipients: list[X25519PublicKey],
    *,
    caseworker_id: int | None = None,
) -> StoredReport:
    report_id = new_report_id()
    sealed = seal_report(
        body, report_id=report_id, sequence=0, kind=EnvelopeKind.REPORT, recipients=recipients
    )
    return await store_report(
        db,
        report_id=report_id,
        language=Language.FR,
        body_sealed=sealed.body_sealed,
        wraps={w.key_id: w.wrap for w in sealed.wraps},
        mailbox=_mailbox(),
        today=TODAY,
        assigned_caseworker_id=caseworker_id,
        deliver_not_before=NOW if caseworker_id is not None else None,
    )


async def add_addendum(
    db: Database, report_id: bytes, body: bytes, recipients: list[X25519PublicKey]
) -> None:
    sealed = seal_report(
        body, report_id=report_id, sequence=1, kind=EnvelopeKind.ADDENDUM, recipients=recipients
    )
    async with db.sessionmaker() as session, session.begin():
        await ReportRepository(session).add_body(
            report_id=report_id,
            sequence=1,
            kind=BodyKind.ADDENDUM,
            body_sealed=sealed.body_sealed,
            wraps={w.key_id: w.wrap for w in sealed.wraps},
            today=TODAY,
        )


async def open_with(
    db: Database, report_id: bytes, sequence: int, kind: EnvelopeKind, keys: CaseworkerKeys
) -> bytes:
    async with db.sessionmaker() as session:
        repository = ReportRepository(session)
        body = await repository.get_body(report_id, sequence)
        wrap = await repository.get_wrap(report_id, sequence, keys.public.encryption.key_id)
    assert body is not None
    if wrap is None:
        raise NotForThisKey
    return open_report(
        body.body_sealed,
        Wrap(wrap.recipient_key_id, wrap.wrap),
        report_id=report_id,
        sequence=sequence,
        kind=kind,
        secret_key=keys.encryption,
    )


async def _reassign(
    db: Database, org: OrganisationKeys, case_reference: str, to: str
) -> service.Reassignment:
    return await service.reassign(
        db,
        case_reference=case_reference,
        to=to,
        recovery_key=org.recovery,
        recovery_public=org.recovery.public_key,
        org_public=org.signing.public_key,
        today=TODAY,
        now=NOW,
        min_serial=0,
    )


async def test_report_sealed_to_recovery_alone_becomes_readable_by_new_caseworker(
    db: Database, org: OrganisationKeys
) -> None:
    body = b"canary-" + secrets.token_hex(8).encode()
    stored = await store_sealed_report(db, body, [org.recovery.public_key])
    caseworker_id, keys = await approved(db, org, "Salma")
    with pytest.raises(NotForThisKey):
        await open_with(db, stored.report_id, 0, EnvelopeKind.REPORT, keys)

    result = await _reassign(db, org, stored.case_reference, "Salma")

    assert result.bodies == 1
    assert await open_with(db, stored.report_id, 0, EnvelopeKind.REPORT, keys) == body
    async with db.sessionmaker() as session:
        report = await session.get(Report, stored.report_id)
        deliveries = (await session.scalars(select(OutboxEntry))).all()
        audit = (await session.scalars(select(AuditEntry.event))).all()
    assert report is not None
    assert report.assigned_caseworker_id == caseworker_id
    assert report.status is ReportStatus.ASSIGNED
    assert [(d.caseworker_id, d.report_id, d.sequence) for d in deliveries] == [
        (caseworker_id, stored.report_id, 0)
    ]
    assert "case.reassigned" in audit


async def test_reassign_removes_old_caseworkers_wraps_and_deliveries(
    db: Database, org: OrganisationKeys
) -> None:
    old_id, old_keys = await approved(db, org, "Old")
    new_id, new_keys = await approved(db, org, "New")
    stored = await store_sealed_report(
        db, b"report", [org.recovery.public_key, old_keys.public.encryption], caseworker_id=old_id
    )
    await add_addendum(
        db, stored.report_id, b"addendum", [org.recovery.public_key, old_keys.public.encryption]
    )

    result = await _reassign(db, org, stored.case_reference, str(new_id))

    assert result.bodies == 2
    assert result.wraps_removed == 2
    assert await open_with(db, stored.report_id, 0, EnvelopeKind.REPORT, new_keys) == b"report"
    assert await open_with(db, stored.report_id, 1, EnvelopeKind.ADDENDUM, new_keys) == b"addendum"
    with pytest.raises(NotForThisKey):
        await open_with(db, stored.report_id, 0, EnvelopeKind.REPORT, old_keys)
    async with db.sessionmaker() as session:
        recipients = set(
            (
                await session.scalars(
                    select(WrapRow.recipient_key_id).where(WrapRow.report_id == stored.report_id)
                )
            ).all()
        )
        deliveries = (await session.scalars(select(OutboxEntry))).all()
    assert recipients == {org.recovery.public_key.key_id, new_keys.public.encryption.key_id}
    assert sorted((d.caseworker_id, d.sequence) for d in deliveries) == [(new_id, 0), (new_id, 1)]


async def test_reassign_to_a_caseworker_who_is_not_eligible_changes_nothing(
    db: Database, org: OrganisationKeys
) -> None:
    stored = await store_sealed_report(db, b"report", [org.recovery.public_key])
    pending, _ = await enrolled(db, "Pending")
    with pytest.raises(service.NotEligible, match="no certificate"):
        await _reassign(db, org, stored.case_reference, "Pending")
    async with db.sessionmaker() as session:
        report = await session.get(Report, stored.report_id)
        wraps = (await session.scalars(select(WrapRow))).all()
        deliveries = (await session.scalars(select(OutboxEntry))).all()
    assert report is not None
    assert report.assigned_caseworker_id is None
    assert len(wraps) == 1
    assert deliveries == []
    assert pending.caseworker_id != report.assigned_caseworker_id


async def test_reassign_refuses_a_recovery_key_other_than_the_configured_one(
    db: Database, org: OrganisationKeys
) -> None:
    stored = await store_sealed_report(db, b"report", [org.recovery.public_key])
    await approved(db, org, "Salma")
    stranger = OrganisationKeys.generate()
    with pytest.raises(service.WrongOrganisationKey):
        await service.reassign(
            db,
            case_reference=stored.case_reference,
            to="Salma",
            recovery_key=stranger.recovery,
            recovery_public=org.recovery.public_key,
            org_public=org.signing.public_key,
            today=TODAY,
            now=NOW,
            min_serial=0,
        )
