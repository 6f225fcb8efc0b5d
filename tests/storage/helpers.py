"""Small builders shared by the storage tests (rows with recognisable, random content)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import insert, select

from crypto import new_report_id
from storage.engine import Database
from storage.models import DeliveryKind, DeliveryStatus, Language, OutboxEntry
from storage.reports import NewMailbox, StoredReport, store_report
from storage.repositories import CaseworkerRepository

from .conftest import NOW, TODAY


async def add_caseworker(db: Database, label: str) -> int:
    """A pending caseworker with random keys; returns its id."""
    async with db.sessionmaker() as session, session.begin():
        caseworker = await CaseworkerRepository(session).add(
            label=label,
            delivery_chat_id=7_000_000_000 + secrets.randbelow(10**6),
            encryption_public_key=secrets.token_bytes(32),
            encryption_key_id=secrets.token_bytes(16),
            signing_public_key=secrets.token_bytes(32),
            fingerprint="12345 67890 12345 67890",
            today=TODAY,
        )
        return caseworker.id


def new_mailbox() -> NewMailbox:
    return NewMailbox(
        lookup_tag=secrets.token_bytes(32), public_key=secrets.token_bytes(32), pepper_version=1
    )


async def store_opaque_report(
    db: Database,
    *,
    caseworker_id: int | None = None,
    body_sealed: bytes | None = None,
    wraps: dict[bytes, bytes] | None = None,
    mailbox: NewMailbox | None = None,
    today: dt.date = TODAY,
) -> StoredReport:
    """Store a report whose sealed pieces are random bytes (storage never looks inside)."""
    return await store_report(
        db,
        report_id=new_report_id(),
        language=Language.AR,
        body_sealed=body_sealed if body_sealed is not None else secrets.token_bytes(4096),
        wraps=wraps if wraps is not None else {secrets.token_bytes(16): secrets.token_bytes(80)},
        mailbox=mailbox if mailbox is not None else new_mailbox(),
        today=today,
        assigned_caseworker_id=caseworker_id,
        deliver_not_before=None if caseworker_id is None else NOW,
    )


async def pending_deliveries(
    db: Database,
    count: int,
    not_before: dt.datetime = NOW,
    wraps: dict[bytes, bytes] | None = None,
) -> list[int]:
    """``count`` pending deliveries of one real report to one real caseworker; returns ids."""
    caseworker_id = await add_caseworker(db, "cw-outbox")
    stored = await store_opaque_report(db, wraps=wraps)
    row = {
        "kind": DeliveryKind.REPORT,
        "caseworker_id": caseworker_id,
        "report_id": stored.report_id,
        "sequence": 0,
        "not_before": not_before,
        "attempts": 0,
        "status": DeliveryStatus.PENDING,
    }
    async with db.sessionmaker() as session, session.begin():
        await session.execute(insert(OutboxEntry), [row] * count)
        ids = (await session.scalars(select(OutboxEntry.id).order_by(OutboxEntry.id))).all()
    return list(ids)
