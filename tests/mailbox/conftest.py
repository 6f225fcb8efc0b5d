"""Fixtures for the mailbox tests: a migrated database (SQLite file, and PostgreSQL where the
storage fixtures reach it), an approved caseworker, a certified bot key, a stored report with a
real receipt, and the real PTB Application with the report flow, /status and the reply commands
against the local Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from telegram.ext import Application, ApplicationBuilder

from bot.bot_identity import BotIdentity, certify_bot, load_bot_identity
from bot.config import Config, load_config
from bot.local_api import LocalBotApi, UserChat
from bot.services.mailbox import MailboxService, MailboxSettings, ReplyRefused
from crypto import (
    Answer,
    EnvelopeKind,
    KdfPool,
    MailboxSecrets,
    Receipt,
    ReplySigner,
    ReplyStatement,
    ReportBody,
    derive_mailbox,
    generate_receipt,
    new_report_id,
    seal_reply,
    seal_report,
    write_reply_file,
)
from crypto.keys import ORG_SIGNING_PREFIX, CaseworkerKeys, OrganisationKeys, X25519PublicKey
from crypto.receipts import PEPPER_BYTES, SALT_BYTES
from handlers.draft import Draft
from handlers.ports import Submission
from handlers.reply_commands import install_reply_commands
from handlers.report_flow import ReportFlow, ReportFlowSettings, install_report_flow
from handlers.status_flow import StatusFlow, install_status_flow
from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from storage.models import Language
from storage.reports import NewMailbox, store_report
from tests.caseworkers.conftest import approved
from tests.config.conftest import minimal_toml
from tests.storage.conftest import NOW, TODAY, db, pg_schema, sqlite_path

__all__ = ["NOW", "TODAY", "db", "pg_schema", "sqlite_path"]

T = TypeVar("T")

CASEWORKER_CHAT = 7_000_001
REPORTER_CHAT = 7_000_002
CANARY = "CanaryReportText-5e1f"

FLOW_SETTINGS = ReportFlowSettings(
    organisation_name="Sanad Test",
    max_text_chars=2000,
    max_file_bytes=2_000_000,
    max_files=3,
    max_messages_per_minute=500,
    conversation_timeout=dt.timedelta(minutes=30),
)


class SpyPool(KdfPool):
    """The real bounded pool, counting the derivations it is asked for."""

    def __init__(self, max_waiting: int) -> None:
        super().__init__(max_waiting)
        self.derivations = 0

    async def derive_mailbox(
        self, receipt: Receipt, *, salt: bytes, pepper: bytes
    ) -> MailboxSecrets:
        self.derivations += 1
        return await super().derive_mailbox(receipt, salt=salt, pepper=pepper)


@dataclass(frozen=True)
class Case:
    """A stored report as its reporter and its caseworker know it."""

    report_id: bytes
    case_reference: str
    receipt: Receipt
    mailbox_public: bytes

    @property
    def mailbox_key_id(self) -> bytes:
        return X25519PublicKey(self.mailbox_public).key_id

    def reply_file(self, keys: CaseworkerKeys, text: str, sequence: int) -> bytes:
        """What ``sanad caseworker reply`` makes for this case: sealed to the reporter's mailbox,
        signed by ``keys``."""
        mailbox_public = X25519PublicKey(self.mailbox_public)
        statement = ReplyStatement(
            signer=ReplySigner.CASEWORKER,
            case_reference=self.case_reference,
            report_id=self.report_id,
            mailbox_key_id=self.mailbox_key_id,
            sequence=sequence,
            sealed_reply=seal_reply(
                text, report_id=self.report_id, sequence=sequence, mailbox_public=mailbox_public
            ),
        )
        return write_reply_file(statement, keys.signing)


@dataclass
class Deployment:
    """One organisation's keys and server secrets, a database and an approved caseworker."""

    db: Database
    org: OrganisationKeys
    salt: bytes = field(repr=False)
    pepper: bytes = field(repr=False)
    caseworker_id: int
    caseworker: CaseworkerKeys
    pool: SpyPool
    bot: BotIdentity
    state_dir: Path

    def config(self) -> Config:
        """A configuration of this deployment (its organisation, its state directory), as
        ``sanad admin status`` reads it."""
        path = self.state_dir.parent / "config.toml"
        org = self.org
        keys = (
            org.signing.public_key.to_text(ORG_SIGNING_PREFIX),
            org.recovery.public_key.to_text(),
        )
        path.write_text(minimal_toml(keys, tables=f'[server]\nstate_dir = "{self.state_dir}"\n'))
        return load_config(path)

    def service(self, clock: Callable[[], dt.datetime] = lambda: NOW) -> MailboxService:
        settings = MailboxSettings(
            revocation_floor=lambda: 0,
            org_signing_public=self.org.signing.public_key,
            recovery_public=self.org.recovery.public_key,
            receipt_salt=self.salt,
            receipt_pepper=self.pepper,
            jitter_seconds=0.0,
        )
        return MailboxService(self.db, self.pool, settings, bot=self.bot, clock=clock)

    async def submit(self, *, assigned: bool = True) -> Case:
        """A report sealed to the caseworker and the recovery key, stored as the bot stores one."""
        receipt = generate_receipt()
        mailbox = await asyncio.to_thread(
            derive_mailbox, receipt, salt=self.salt, pepper=self.pepper
        )
        report_id = new_report_id()
        mailbox_public = mailbox.key.public_key
        sealed = seal_report(
            ReportBody([Answer("what_happened", CANARY)]).to_bytes(),
            report_id=report_id,
            sequence=0,
            kind=EnvelopeKind.REPORT,
            recipients=[self.caseworker.public.encryption, self.org.recovery.public_key],
            reply_to=mailbox_public,
        )
        stored = await store_report(
            self.db,
            report_id=report_id,
            language=Language.AR,
            body_sealed=sealed.body_sealed,
            wraps={w.key_id: w.wrap for w in sealed.wraps},
            mailbox=NewMailbox(mailbox.lookup_tag, mailbox_public.raw, pepper_version=1),
            today=TODAY,
            assigned_caseworker_id=self.caseworker_id if assigned else None,
            deliver_not_before=NOW if assigned else None,
        )
        return Case(report_id, stored.case_reference, receipt, mailbox_public.raw)


async def deployment_on(database: Database, state_dir: Path, *, max_waiting: int = 4) -> Deployment:
    """Organisation keys, an approved caseworker, and a bot key in ``state_dir`` certified by
    the organisation, as ``sanad admin certify-bot`` leaves it."""
    org = OrganisationKeys.generate()
    caseworker_id, keys = await approved(database, org, "amina", chat_id=CASEWORKER_CHAT)
    certify_bot(state_dir, org.signing, today=TODAY)
    return Deployment(
        db=database,
        org=org,
        salt=secrets.token_bytes(SALT_BYTES),
        pepper=secrets.token_bytes(PEPPER_BYTES),
        caseworker_id=caseworker_id,
        caseworker=keys,
        pool=SpyPool(max_waiting),
        bot=load_bot_identity(state_dir, org.signing.public_key, today=TODAY),
        state_dir=state_dir,
    )


@pytest.fixture
async def sqlite_file_db(sqlite_path: Any) -> AsyncIterator[Database]:
    database = open_database(f"sqlite:///{sqlite_path}")
    try:
        await upgrade_database(database)
        yield database
    finally:
        await database.close()


@contextlib.asynccontextmanager
async def deployed(database: Database, state_dir: Path) -> AsyncIterator[Deployment]:
    """:func:`deployment_on`, its sealing pool closed at the end."""
    built = await deployment_on(database, state_dir)
    try:
        yield built
    finally:
        built.pool.close()


@pytest.fixture
async def deployment(sqlite_file_db: Database, tmp_path: Path) -> AsyncIterator[Deployment]:
    """A deployment on a real SQLite file."""
    async with deployed(sqlite_file_db, tmp_path / "state") as built:
        yield built


@pytest.fixture
async def world(db: Database, tmp_path: Path) -> AsyncIterator[Deployment]:
    """A deployment on each database ``db`` gives: a SQLite file, and PostgreSQL."""
    async with deployed(db, tmp_path / "state") as built:
        yield built


class RefusingSubmitter:
    """The report flow is installed for its chat helpers and guard; no report is written here."""

    async def submit(self, draft: Draft) -> Submission:
        raise AssertionError("these tests submit reports through storage directly")


@dataclass
class Kept:
    ids: list[tuple[int, list[int]]] = field(default_factory=list)
    later: list[tuple[int, list[int]]] = field(default_factory=list)

    async def keep_for_erasure(self, chat_id: int, message_ids: Sequence[int]) -> None:
        self.ids.append((chat_id, list(message_ids)))

    def journal(self, chat_id: int, message_id: int) -> None:
        """Journalling is the bot's (bot.services.erase_journal); these tests erase in-flow."""

    async def settle(self, chat_id: int) -> None:
        """As :meth:`journal`."""

    def erase_later(self, chat_id: int, message_ids: Sequence[int]) -> None:
        self.later.append((chat_id, list(message_ids)))

    def outside_messages(self, chat_id: int) -> list[int]:
        """As :meth:`journal`."""
        return []


@dataclass
class Bot:
    api: LocalBotApi
    app: Application  # type: ignore[type-arg]
    status: StatusFlow
    report: ReportFlow
    caseworker_chat: UserChat
    reporter_chat: UserChat


@contextlib.asynccontextmanager
async def running_bot(
    service: MailboxService, *, receipt_attempts_per_minute: int = 5
) -> AsyncIterator[Bot]:
    """The bot's handlers on a real polling Application against the local Bot API server."""
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        app = (
            ApplicationBuilder()
            .token(token)
            .base_url(api.bot_base_url)
            .base_file_url(api.file_base_url)
            .concurrent_updates(16)
            .build()
        )
        kept = Kept()
        # The bot's order (bot.app): /status first, so its commands reach it while it is open.
        status = install_status_flow(
            app,
            service,
            FLOW_SETTINGS,
            kept,
            receipt_attempts_per_minute=receipt_attempts_per_minute,
        )
        report = install_report_flow(app, FLOW_SETTINGS, RefusingSubmitter(), kept)
        install_reply_commands(app, service, ReplyRefused)
        caseworker_chat = api.open_chat(CASEWORKER_CHAT, "Amina", language_code="en")
        reporter_chat = api.open_chat(REPORTER_CHAT, "Salma", language_code="ar")
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                yield Bot(api, app, status, report, caseworker_chat, reporter_chat)
            finally:
                await app.updater.stop()
                await app.stop()


def arabic_indic(receipt: Receipt) -> str:
    """The receipt as a reporter might type it: Arabic-Indic digits in dashed groups."""
    digits = receipt.digits.translate({ord("0") + i: 0x0660 + i for i in range(10)})
    return "–".join(digits[i : i + 4] for i in range(0, len(digits), 4))
