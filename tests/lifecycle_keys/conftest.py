"""Fixtures for the key lifecycle tests: a migrated database on SQLite and on PostgreSQL (the
storage tests' ``db`` fixture), real keys, and reports sealed and stored as the bot stores them,
so every property is checked by opening real ciphertext with real keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bot.bot_identity import BotIdentity, certify_bot, load_bot_identity
from crypto import EnvelopeKind, Wrap, new_report_id, open_report, seal_report
from crypto.keys import OrganisationKeys, X25519PublicKey, X25519SecretKey
from storage.engine import Database
from storage.models import BodyKind, Language, Report, ReportBody
from storage.models import Wrap as WrapRow
from storage.reports import NewMailbox, store_report
from storage.repositories import ReportRepository
from tests.caseworkers.conftest import approved, enrolled, new_chat_id, org
from tests.storage.conftest import NOW, TODAY, db, pg_db, pg_schema, sqlite_path

__all__ = [
    "NOW",
    "TODAY",
    "approved",
    "db",
    "enrolled",
    "new_chat_id",
    "org",
    "pg_db",
    "pg_schema",
    "sqlite_path",
]


def certified_bot(state_dir: Path, org: OrganisationKeys) -> BotIdentity:
    """The bot key in ``state_dir``, certified by ``org`` as ``sanad admin certify-bot`` does:
    the mailbox service signs what it stores with it (I9)."""
    certify_bot(state_dir, org.signing, today=TODAY)
    return load_bot_identity(state_dir, org.signing.public_key, today=TODAY)


_KIND = {BodyKind.REPORT: EnvelopeKind.REPORT, BodyKind.ADDENDUM: EnvelopeKind.ADDENDUM}


@dataclass(frozen=True)
class Part:
    """One stored body and the plaintext it was sealed from."""

    report_id: bytes
    sequence: int
    kind: BodyKind
    plaintext: bytes


async def store_case(
    db: Database,
    recipients: list[X25519PublicKey],
    *,
    caseworker_id: int | None = None,
    addenda: int = 0,
) -> tuple[str, list[Part]]:
    """A report (plus ``addenda``) sealed to ``recipients``; returns its reference and parts."""
    report_id = new_report_id()
    canary = b"canary-" + secrets.token_hex(8).encode()
    sealed = seal_report(
        canary, report_id=report_id, sequence=0, kind=EnvelopeKind.REPORT, recipients=recipients
    )
    stored = await store_report(
        db,
        report_id=report_id,
        language=Language.AR,
        body_sealed=sealed.body_sealed,
        wraps={w.key_id: w.wrap for w in sealed.wraps},
        # A real mailbox key: random bytes may be a low-order or non-canonical point, refused
        # when a reply is sealed to it.
        mailbox=NewMailbox(secrets.token_bytes(32), X25519SecretKey.generate().public_key.raw, 1),
        today=TODAY,
        assigned_caseworker_id=caseworker_id,
        deliver_not_before=NOW if caseworker_id is not None else None,
    )
    parts = [Part(report_id, 0, BodyKind.REPORT, canary)]
    for sequence in range(1, addenda + 1):
        text = canary + b"-addendum-%d" % sequence
        sealed = seal_report(
            text,
            report_id=report_id,
            sequence=sequence,
            kind=EnvelopeKind.ADDENDUM,
            recipients=recipients,
        )
        async with db.sessionmaker() as session, session.begin():
            await ReportRepository(session).add_body(
                report_id=report_id,
                sequence=sequence,
                kind=BodyKind.ADDENDUM,
                body_sealed=sealed.body_sealed,
                wraps={w.key_id: w.wrap for w in sealed.wraps},
                today=TODAY,
            )
            report = await session.get(Report, report_id)
            assert report is not None
            report.next_sequence = sequence + 1
        parts.append(Part(report_id, sequence, BodyKind.ADDENDUM, text))
    return stored.case_reference, parts


async def opens(db: Database, part: Part, key: X25519SecretKey) -> bool:
    """True when ``key`` opens ``part`` from what is stored now (its wrap and its body)."""
    async with db.sessionmaker() as session:
        repository = ReportRepository(session)
        body = await repository.get_body(part.report_id, part.sequence)
        wrap = await repository.get_wrap(part.report_id, part.sequence, key.public_key.key_id)
    if body is None or wrap is None:
        return False
    plaintext = open_report(
        body.body_sealed,
        Wrap(wrap.recipient_key_id, wrap.wrap),
        report_id=part.report_id,
        sequence=part.sequence,
        kind=_KIND[part.kind],
        secret_key=key,
    )
    return plaintext == part.plaintext


async def wraps_under(db: Database, key: X25519PublicKey) -> int:
    """How many stored wraps name ``key``, anywhere."""
    async with db.sessionmaker() as session:
        rows = await session.scalars(
            select(WrapRow.report_id).where(WrapRow.recipient_key_id == key.key_id)
        )
        return len(rows.all())


async def recovery_wraps_per_body(db: Database, keys: list[X25519PublicKey]) -> list[int]:
    """For each stored body, how many wraps it holds under any of ``keys``."""
    ids = [k.key_id for k in keys]
    async with db.sessionmaker() as session:
        bodies = (await session.execute(select(ReportBody.report_id, ReportBody.sequence))).all()
        held = (
            await session.execute(
                select(WrapRow.report_id, WrapRow.sequence).where(WrapRow.recipient_key_id.in_(ids))
            )
        ).all()
    counts = {(r, s): 0 for r, s in bodies}
    for report_id, sequence in held:
        counts[(report_id, sequence)] += 1
    return list(counts.values())
