"""End-to-end fixtures: the real submission service, a real SQLite file, real keys and crypto."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image
from sqlalchemy import select

from bot.services.key_lifecycle import PepperRing
from bot.services.report_submission import ReportSubmissionService
from crypto import (
    Certificate,
    EnvelopeKind,
    KdfPool,
    ReportBody,
    Wrap,
    issue_certificate,
    open_report,
)
from crypto.keys import CaseworkerKeys, OrganisationKeys, X25519PublicKey, X25519SecretKey
from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from storage.models import CaseworkerStatus, Mailbox, Report
from storage.models import ReportBody as ReportBodyRow
from storage.models import Wrap as WrapRow
from storage.repositories import CaseworkerRepository

TODAY = dt.datetime.now(dt.UTC).date()
CASEWORKER_CHAT = 42


@dataclass
class Deployment:
    """A bot deployment for a test: its database file, organisation and one verified caseworker."""

    path: Path
    database: Database
    organisation: OrganisationKeys
    caseworker: CaseworkerKeys
    caseworker_id: int
    service: ReportSubmissionService


async def enrol_verified_caseworker(
    db: Database, org: OrganisationKeys
) -> tuple[int, CaseworkerKeys]:
    keys = CaseworkerKeys.generate()
    label = f"cw-{secrets.token_hex(4)}"
    async with db.sessionmaker() as session, session.begin():
        row = await CaseworkerRepository(session).add(
            label=label,
            delivery_chat_id=CASEWORKER_CHAT,
            encryption_public_key=keys.public.encryption.raw,
            encryption_key_id=keys.public.encryption.key_id,
            signing_public_key=keys.public.signing.raw,
            fingerprint="00000 00000",
            today=TODAY,
        )
        # What ``sanad admin approve`` does: the certificate names this row's id (I4).
        row.certificate = issue_certificate(
            Certificate(
                caseworker_id=str(row.id),
                label=label,
                delivery_chat_id=CASEWORKER_CHAT,
                keys=keys.public,
                serial=1,
                not_before=TODAY - dt.timedelta(days=1),
                expires=TODAY + dt.timedelta(days=365),
            ),
            org.signing,
        )
        row.status = CaseworkerStatus.VERIFIED
        return row.id, keys


@contextlib.asynccontextmanager
async def deployment(directory: Path, *, with_caseworker: bool = True) -> AsyncIterator[Deployment]:
    path = directory / "sanad.sqlite3"
    database = open_database(f"sqlite+aiosqlite:///{path}")
    await upgrade_database(database)
    org = OrganisationKeys.generate()
    caseworker_id, caseworker = (
        await enrol_verified_caseworker(database, org)
        if with_caseworker
        else (0, CaseworkerKeys.generate())
    )
    async with KdfPool(4) as pool:
        service = ReportSubmissionService(
            database,
            pool,
            organisation_signing_key=org.signing.public_key,
            recovery_key=org.recovery.public_key,
            receipt_salt=secrets.token_bytes(16),
            peppers=PepperRing({1: secrets.token_bytes(32)}),
            revocation_floor=lambda: 0,
        )
        try:
            yield Deployment(path, database, org, caseworker, caseworker_id, service)
        finally:
            await database.close()


@dataclass
class StoredReport:
    report: Report
    body_sealed: bytes
    wraps: dict[bytes, bytes]
    mailbox_public: X25519PublicKey


async def stored_reports(db: Database) -> list[StoredReport]:
    async with db.sessionmaker() as session:
        found = []
        for report in (await session.scalars(select(Report))).all():
            body = await session.scalar(
                select(ReportBodyRow).where(
                    ReportBodyRow.report_id == report.id, ReportBodyRow.sequence == 0
                )
            )
            assert body is not None
            wraps = (
                await session.scalars(select(WrapRow).where(WrapRow.report_id == report.id))
            ).all()
            mailbox = await session.scalar(select(Mailbox).where(Mailbox.report_id == report.id))
            assert mailbox is not None
            found.append(
                StoredReport(
                    report,
                    body.body_sealed,
                    {w.recipient_key_id: w.wrap for w in wraps},
                    X25519PublicKey(mailbox.public_key),
                )
            )
        return found


def open_stored(stored: StoredReport, key: X25519SecretKey) -> ReportBody:
    """Open a stored report as its holder would: rebuild the header from what we expect."""
    key_id = key.public_key.key_id
    plaintext = open_report(
        stored.body_sealed,
        Wrap(key_id, stored.wraps[key_id]),
        report_id=stored.report.id,
        sequence=0,
        kind=EnvelopeKind.REPORT,
        secret_key=key,
        reply_to=stored.mailbox_public,
    )
    return ReportBody.from_bytes(plaintext)


def image_metadata(data: bytes) -> tuple[dict[int, object], set[str]]:
    """The EXIF tags and info keys Pillow finds in an image."""
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif()), set(image.info)


def pdf_metadata(data: bytes) -> tuple[bool, bool]:
    """(has document info entries, has XMP metadata) of a PDF; an empty info dictionary, as
    img2pdf writes, says nothing about anyone."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.trailer.get("/Info", {})) > 0, "/Metadata" in pdf.Root
