"""Fixtures for the caseworker tests: keys made through the library, a migrated database on
SQLite and on PostgreSQL (the storage tests' ``db`` fixture), and small builders.

Enrolment claims are signed with :data:`BOT_KEY` unless a test passes the bot key of a
deployment (``bot.bot_identity.certify_bot``), as the CLI tests do."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest

from bot.services import caseworkers as service
from crypto import encode_enrolment_code, issue_certificate
from crypto.certificates import Certificate
from crypto.keys import CaseworkerKeys, Ed25519SigningKey, OrganisationKeys
from storage.engine import Database
from storage.models import Caseworker, CaseworkerStatus
from tests.storage.conftest import TODAY, db, pg_schema, sqlite_path

__all__ = ["BOT_KEY", "TODAY", "db", "pg_schema", "sqlite_path"]

# The bot key of the in-process tests: the key that signs enrolment claims.
BOT_KEY = Ed25519SigningKey.generate()


@pytest.fixture
def org() -> OrganisationKeys:
    return OrganisationKeys.generate()


def new_chat_id() -> int:
    return 5_000_000_000 + secrets.randbelow(10**9)


async def enrolled(
    db: Database,
    label: str,
    *,
    chat_id: int | None = None,
    keys: CaseworkerKeys | None = None,
    bot_key: Ed25519SigningKey = BOT_KEY,
    today: dt.date = TODAY,
) -> tuple[service.Enrolment, CaseworkerKeys]:
    """``/enroll`` through the service from ``chat_id`` (a new chat by default) with ``keys``
    (fresh by default) on ``today``: a pending row and a claim whose code the enrolment
    carries."""
    keys = keys or CaseworkerKeys.generate()
    enrolment = await service.enroll(
        db,
        code=encode_enrolment_code(label, keys.public),
        chat_id=chat_id or new_chat_id(),
        bot_key=bot_key,
        today=today,
    )
    return enrolment, keys


def code_of(enrolment: service.Enrolment) -> str:
    """The confirmation code as an admin types it (the bot shows it ``1234 5678``)."""
    return enrolment.confirmation_code.replace(" ", "")


async def approve_enrolment(
    db: Database,
    org: OrganisationKeys,
    enrolment: service.Enrolment,
    *,
    days: int = 30,
    today: dt.date = TODAY,
    bot_key: Ed25519SigningKey = BOT_KEY,
) -> service.Approval:
    """``sanad admin approve`` with the code this enrolment's chat received."""
    return await service.approve(
        db,
        who=str(enrolment.caseworker_id),
        confirmation=code_of(enrolment),
        signing_key=org.signing,
        org_public=org.signing.public_key,
        bot_public=bot_key.public_key,
        today=today,
        days=days,
    )


async def approved(
    db: Database, org: OrganisationKeys, label: str, *, days: int = 30, chat_id: int | None = None
) -> tuple[int, CaseworkerKeys]:
    """A caseworker enrolled and approved with the organisation key; returns id and keys."""
    enrolment, keys = await enrolled(db, label, chat_id=chat_id)
    await approve_enrolment(db, org, enrolment, days=days)
    return enrolment.caseworker_id, keys


async def insert_by_hand(
    db: Database,
    label: str,
    *,
    keys: CaseworkerKeys | None = None,
    certificate: bytes | None = None,
    status: CaseworkerStatus = CaseworkerStatus.VERIFIED,
) -> tuple[int, CaseworkerKeys]:
    """A row written straight into the database, as an intruder with write access would."""
    keys = keys or CaseworkerKeys.generate()
    async with db.sessionmaker() as session, session.begin():
        row = Caseworker(
            label=label,
            delivery_chat_id=new_chat_id(),
            encryption_public_key=keys.public.encryption.raw,
            encryption_key_id=keys.public.encryption.key_id,
            signing_public_key=keys.public.signing.raw,
            fingerprint="00000 00000 00000 00000 00000 00000",
            certificate=certificate,
            status=status,
            created_day=TODAY,
        )
        session.add(row)
        await session.flush()
        return row.id, keys


def certificate_for(
    caseworker_id: int,
    label: str,
    keys: CaseworkerKeys,
    signer: OrganisationKeys,
    *,
    not_before: dt.date = TODAY,
    days: int = 30,
    chat_id: int = 5_000_000_000,
) -> bytes:
    return issue_certificate(
        Certificate(
            caseworker_id=str(caseworker_id),
            label=label,
            delivery_chat_id=chat_id,
            keys=keys.public,
            serial=1,
            not_before=not_before,
            expires=not_before + dt.timedelta(days=days),
        ),
        signer.signing,
    )


async def set_certificate(db: Database, caseworker_id: int, certificate: bytes) -> None:
    """Overwrite a row's certificate directly (an intruder's edit, or a test's setup)."""
    async with db.sessionmaker() as session, session.begin():
        row = await session.get(Caseworker, caseworker_id)
        assert row is not None
        row.certificate = certificate
