"""Fixtures for delivery tests: real keys, certified caseworkers, sealed reports in the outbox.

Everything is real except Telegram: libsodium seals the reports, the organisation key signs the
certificates, the outbox is a SQLite file (or PostgreSQL), and the bot is python-telegram-bot
talking HTTP to the local Bot API server, where each caseworker is a simulated user whose chat
receives the files.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.bot_identity import certify_bot
from bot.local_api import LocalBotApi
from crypto import (
    Answer,
    Attachment,
    AttachmentKind,
    Certificate,
    EnvelopeKind,
    ReportBody,
    issue_certificate,
    new_report_id,
    seal_report,
)
from crypto.keys import ORG_SIGNING_PREFIX, CaseworkerKeys, OrganisationKeys, X25519SecretKey
from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from storage.models import Caseworker as CaseworkerRow
from storage.models import CaseworkerStatus, Language, OutboxEntry
from storage.reports import NewMailbox, store_report
from storage.repositories import CaseworkerRepository

TOKEN_ENV = "SANAD_TEST_BOT_TOKEN"
TODAY = dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class EnrolledCaseworker:
    """A certified caseworker: their row id, their delivery chat and their private keys."""

    id: int
    chat_id: int
    keys: CaseworkerKeys


@dataclass(frozen=True)
class QueuedReport:
    """A sealed report committed with its outbox row; ``canary`` is the text sealed inside."""

    report_id: bytes
    case_reference: str
    canary: str


async def enrol_caseworker(
    db: Database,
    org: OrganisationKeys,
    *,
    chat_id: int,
    expires: dt.date | None = None,
    status: CaseworkerStatus = CaseworkerStatus.VERIFIED,
) -> EnrolledCaseworker:
    """A caseworker whose certificate the organisation signed (valid until ``expires``)."""
    keys = CaseworkerKeys.generate()
    label = f"cw-{secrets.token_hex(4)}"
    async with db.sessionmaker() as session, session.begin():
        row = await CaseworkerRepository(session).add(
            label=label,
            delivery_chat_id=chat_id,
            encryption_public_key=keys.public.encryption.raw,
            encryption_key_id=keys.public.encryption.key_id,
            signing_public_key=keys.public.signing.raw,
            fingerprint="00000 00000",
            today=TODAY,
        )
        # The certificate names the row it was issued for, as ``sanad admin approve`` signs it.
        row.certificate = issue_certificate(
            Certificate(
                caseworker_id=str(row.id),
                label=label,
                delivery_chat_id=chat_id,
                keys=keys.public,
                serial=1,
                not_before=TODAY - dt.timedelta(days=30),
                expires=expires or TODAY + dt.timedelta(days=365),
            ),
            org.signing,
        )
        row.status = status
        return EnrolledCaseworker(row.id, chat_id, keys)


async def queue_report(
    db: Database,
    org: OrganisationKeys,
    caseworker: EnrolledCaseworker,
    *,
    evidence: bytes = b"",
) -> QueuedReport:
    """Seal a report to the caseworker and the recovery key and commit it with its delivery;
    non-empty ``evidence`` is attached as a file (to make a large report)."""
    canary = f"canary-{secrets.token_hex(8)}"
    mailbox = X25519SecretKey.generate().public_key
    report_id = new_report_id()
    attachments = (
        [Attachment("evidence.bin", "application/octet-stream", AttachmentKind.DOCUMENT, evidence)]
        if evidence
        else []
    )
    sealed = seal_report(
        ReportBody([Answer("incident.description", canary)], attachments).to_bytes(),
        report_id=report_id,
        sequence=0,
        kind=EnvelopeKind.REPORT,
        recipients=[caseworker.keys.public.encryption, org.recovery.public_key],
        reply_to=mailbox,
    )
    stored = await store_report(
        db,
        report_id=report_id,
        language=Language.AR,
        body_sealed=sealed.body_sealed,
        wraps={wrap.key_id: wrap.wrap for wrap in sealed.wraps},
        mailbox=NewMailbox(secrets.token_bytes(32), mailbox.raw, 1),
        today=TODAY,
        assigned_caseworker_id=caseworker.id,
        deliver_not_before=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
    )
    return QueuedReport(report_id, stored.case_reference, canary)


async def outbox_rows(db: Database) -> list[OutboxEntry]:
    async with db.sessionmaker() as session, session.begin():
        return list((await session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all())


async def expire_claims(db: Database) -> None:
    """Make every claim's lease run out now, as waiting the lease out would."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.claimed_until.is_not(None))
            .values(claimed_until=past)
        )


async def revoke_in_database(db: Database, caseworker_id: int) -> None:
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(CaseworkerRow)
            .where(CaseworkerRow.id == caseworker_id)
            .values(status=CaseworkerStatus.REVOKED)
        )


def certified_state_dir(state_dir: Path, org: OrganisationKeys) -> Path:
    """``state_dir`` with a bot key ``org`` certified, as ``sanad admin certify-bot`` leaves it:
    without one the bot does not start (I9)."""
    certify_bot(state_dir, org.signing)
    return state_dir


def config_text(
    *,
    api_url: str,
    database_url: str,
    org: OrganisationKeys,
    state_dir: Path,
    delivery: dict[str, Any],
) -> str:
    """A configuration file for a bot on the local server; ``delivery`` fills ``[delivery]``."""
    lines = "\n".join(f"{key} = {value!r}" for key, value in delivery.items())
    return f"""
[telegram]
token_env = "{TOKEN_ENV}"
api_base_url = "{api_url}"

[database]
url = "{database_url}"

[organisation]
signing_public_key = "{org.signing.public_key.to_text(ORG_SIGNING_PREFIX)}"
recovery_public_key = "{org.recovery.public_key.to_text()}"

[server]
state_dir = "{state_dir}"

[delivery]
{lines}
"""


@pytest.fixture
def org() -> OrganisationKeys:
    return OrganisationKeys.generate()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite file."""
    database = open_database(f"sqlite:///{tmp_path / 'sanad.sqlite3'}")
    await upgrade_database(database)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi.running(seed=7) as server:
        yield server


async def caseworker_chat(api: LocalBotApi, chat_id: int) -> None:
    """Open the caseworker's chat with the bot: Telegram lets a bot write only after that."""
    chat = api.open_chat(chat_id, "Caseworker")
    await chat.send_command("start")
