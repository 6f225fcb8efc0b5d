"""A report walked through its whole life with the clock moved past every deadline (I2, I3, I6).

Submit (unassigned, with leftover chat ids for housekeeping) → flagged unassigned → assigned →
a caseworker replies and the reporter looks it up → mailbox expiry → closed → closed-report
retention. After each purge the test asserts what rows remain; on SQLite it also greps the
database file and its WAL for the sealed bytes that were purged, having first shown that the
same grep finds them while they are stored.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from sqlalchemy import func, select, update

from bot.bot_identity import certify_bot, load_bot_identity
from bot.jobs.purge import AUDIT_EVENT, Purger, RetentionSettings
from bot.services import caseworkers
from bot.services.housekeeping import Housekeeping
from bot.services.mailbox import MailboxService, MailboxSettings
from crypto import Answer, EnvelopeKind, KdfPool, ReportBody, new_report_id, seal_report
from crypto.keys import OrganisationKeys, X25519SecretKey
from storage import audit
from storage.engine import Database
from storage.models import (
    AuditEntry,
    Caseworker,
    EnrolmentClaim,
    Language,
    Mailbox,
    MailboxMessage,
    OutboxEntry,
    Report,
    Wrap,
)
from storage.models import (
    Housekeeping as HousekeepingRow,
)
from storage.models import (
    ReportBody as ReportBodyRow,
)
from storage.reports import NewMailbox, store_report
from tests.caseworkers.conftest import approved, enrolled

from .conftest import TODAY, Clock

SETTINGS = RetentionSettings(
    closed_report=dt.timedelta(days=30),
    mailbox=dt.timedelta(days=10),
    unassigned_alert=dt.timedelta(days=7),
)


def on_disk(db: Database) -> bytes | None:
    """The SQLite file and its WAL, byte for byte; None on PostgreSQL."""
    if db.sqlite_path is None:
        return None
    path: Path = db.sqlite_path
    return b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )


def still_on_disk(db: Database, secret: bytes) -> bool:
    found = on_disk(db)
    return found is not None and secret in found


async def count(db: Database, column: object) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count(column))) or 0)


async def test_report_life_past_every_deadline(
    db: Database, housekeeping: Housekeeping, clock: Clock, tmp_path: Path
) -> None:
    org = OrganisationKeys.generate()
    # The bot signs the day-9 /reply (I9); its certificate covers the whole walk.
    certify_bot(tmp_path / "state", org.signing, today=TODAY, days=366)
    bot = load_bot_identity(tmp_path / "state", org.signing.public_key, today=TODAY)
    caseworker_chat = 5_100_000_000 + secrets.randbelow(10**8)
    caseworker_id, _keys = await approved(db, org, "amal", days=365, chat_id=caseworker_chat)
    purger = Purger(db, housekeeping, SETTINGS, clock=clock)

    # Day 0: submitted, nobody assigned; the conversation's ids wait for erasure.
    mailbox_key = X25519SecretKey.generate().public_key
    report_id = new_report_id()
    canary = f"canary-{secrets.token_hex(8)}"
    sealed = seal_report(
        ReportBody([Answer("incident.description", canary)]).to_bytes(),
        report_id=report_id,
        sequence=0,
        kind=EnvelopeKind.REPORT,
        recipients=[org.recovery.public_key],
        reply_to=mailbox_key,
    )
    stored = await store_report(
        db,
        report_id=report_id,
        language=Language.AR,
        body_sealed=sealed.body_sealed,
        wraps={wrap.key_id: wrap.wrap for wrap in sealed.wraps},
        mailbox=NewMailbox(secrets.token_bytes(32), mailbox_key.raw, 1),
        today=TODAY,
    )
    await housekeeping.keep_for_erasure(7_123_456_789_012, [10, 11, 12])
    body_sample = sealed.body_sealed[1000:1064]
    assert still_on_disk(db, body_sample) or on_disk(db) is None

    first = await purger.run()
    assert first.rows.housekeeping == first.rows.reports == 0
    assert first.unassigned_overdue == 0

    # Day 1, after the 24 h housekeeping deadline: the row and then its key go.
    clock.advance(days=1, hours=1)
    after_housekeeping = await purger.run()
    assert after_housekeeping.rows.housekeeping == 1
    assert after_housekeeping.keys_destroyed == 1
    assert await count(db, HousekeepingRow.id) == 0
    assert housekeeping.keyring.present() == []

    # Day 7: unassigned for the alert age — flagged, not deleted.
    clock.advance(days=6)
    flagged = await purger.run()
    assert flagged.unassigned_overdue == 1
    assert await count(db, Report.id) == 1

    # Day 8: an admin assigns it; the flag clears.
    clock.advance(days=1)
    await caseworkers.reassign(
        db,
        case_reference=stored.case_reference,
        to="amal",
        recovery_key=org.recovery,
        recovery_public=org.recovery.public_key,
        org_public=org.signing.public_key,
        today=clock.now.date(),
        now=clock.now,
        min_serial=0,
    )
    async with db.sessionmaker() as session:
        assert await session.scalar(select(Report.assigned_caseworker_id)) == caseworker_id
    assert (await purger.run()).unassigned_overdue == 0

    # Day 9: the caseworker replies; the reporter reads it with /status the same day.
    clock.advance(days=1)
    mailbox_service = MailboxService(
        db,
        KdfPool(1),
        MailboxSettings(
            revocation_floor=lambda: 0,
            org_signing_public=org.signing.public_key,
            recovery_public=org.recovery.public_key,
            receipt_salt=bytes(16),
            receipt_pepper=bytes(32),
            jitter_seconds=0.0,
        ),
        bot=bot,
        clock=clock,
    )
    await mailbox_service.store_reply(
        chat_id=caseworker_chat, case_reference=stored.case_reference, text="we are on it"
    )
    async with db.sessionmaker() as session, session.begin():
        await session.execute(update(Mailbox).values(last_lookup_day=clock.now.date()))
        reply_sealed = await session.scalar(select(MailboxMessage.message_sealed))
    assert reply_sealed is not None
    reply_sample = reply_sealed[-64:]
    assert still_on_disk(db, reply_sample) or on_disk(db) is None

    # Day 18: nine days after the look-up, the mailbox stays.
    clock.advance(days=9)
    assert (await purger.run()).rows.mailboxes == 0
    # Day 19: ten days after it, the mailbox and the reply go; the open case stays.
    clock.advance(days=1)
    expired = await purger.run()
    assert expired.rows.mailboxes == 1
    assert (await count(db, Mailbox.id), await count(db, MailboxMessage.mailbox_id)) == (0, 0)
    assert await count(db, Report.id) == 1
    assert not still_on_disk(db, reply_sample)

    # Day 20: the caseworker closes the case.
    clock.advance(days=1)
    closed_day = clock.now.date()
    await caseworkers.close_case(
        db,
        chat_id=caseworker_chat,
        case_reference=stored.case_reference,
        org_public=org.signing.public_key,
        today=closed_day,
        min_serial=0,
    )

    # Day 49: 29 days after closing, everything of the case is still there.
    clock.advance(days=29)
    assert (await purger.run()).rows.reports == 0
    assert (await count(db, ReportBodyRow.report_id), await count(db, Wrap.report_id)) == (1, 2)
    assert still_on_disk(db, body_sample) or on_disk(db) is None

    # Day 50: 30 days after closing: report, body, both wraps and the delivery row go.
    clock.advance(days=1)
    gone = await purger.run()
    assert (gone.rows.reports, gone.rows.wraps) == (1, 2)
    for column in (Report.id, ReportBodyRow.report_id, Wrap.report_id, OutboxEntry.id):
        assert await count(db, column) == 0
    assert not still_on_disk(db, body_sample)
    for wrap in sealed.wraps:
        assert not still_on_disk(db, wrap.wrap)

    # Every purge that removed something is in the audit log, in an intact chain.
    async with db.sessionmaker() as session, session.begin():
        verdict = await audit.verify_chain(session)
        purges = (
            await session.scalars(
                select(AuditEntry.counts)
                .where(AuditEntry.event == AUDIT_EVENT)
                .order_by(AuditEntry.id)
            )
        ).all()
    assert verdict.intact
    assert [entry["reports"] for entry in purges] == [0, 0, 1]
    assert [entry["mailboxes"] for entry in purges] == [0, 1, 0]
    assert purges[0]["housekeeping"] == purges[0]["keys"] == 1


async def test_unapproved_enrolments_expire_two_weeks_on_and_the_purge_records_it(
    db: Database, housekeeping: Housekeeping, clock: Clock
) -> None:
    await enrolled(db, "flood", today=TODAY)
    purger = Purger(db, housekeeping, SETTINGS, clock=clock)

    clock.advance(days=caseworkers.CLAIM_VALIDITY.days)
    kept = await purger.run()
    clock.advance(days=1)
    expired = await purger.run()

    assert kept.enrolments == caseworkers.ExpiredEnrolments(claims=0, caseworkers=0)
    assert expired.enrolments == caseworkers.ExpiredEnrolments(claims=1, caseworkers=1)
    assert await count(db, EnrolmentClaim.id) == await count(db, Caseworker.id) == 0
    async with db.sessionmaker() as session:
        [entry] = (
            await session.scalars(select(AuditEntry.counts).where(AuditEntry.event == AUDIT_EVENT))
        ).all()
    assert (entry["enrolment_claims"], entry["pending_caseworkers"]) == (1, 1)
