"""What ``sanad admin status`` reports: counts and deadlines, nothing identifying.

One read-only transaction gathers how many reports are in each state, the deliveries still owed
and those given up (by error class), caseworkers by state, the earliest retention deadlines
(DESIGN.md §6, I6), and how many stored replies fail their signature check — the replies
``/status`` drops (I9), checked here the same way (:mod:`bot.services.reply_signatures`), without
decrypting anything. Beside it, the state of the bot's certificate: when it expires, whether
renewal is due, or why the bot would not start. Nothing here names a case, a caseworker or a
chat. On PostgreSQL, also which instances are connected (by their random names), which one
leads, since when, and the leadership epoch (:mod:`storage.leadership`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.bot_identity import BotIdentity, load_bot_identity, read_bot_certificate
from bot.config import Config, ConfigError
from bot.jobs.purge import RetentionSettings
from bot.revocation_mark import revocation_floor
from bot.services.caseworkers import MAX_PENDING_ENROLMENTS, latest_revocations
from bot.services.reply_signatures import ReplySigners, reply_signers
from crypto import RevocationList
from crypto.keys import Ed25519PublicKey, key_id
from storage.engine import Backend, Database
from storage.leadership import Instance, LeaderState, instances, leader_state
from storage.models import (
    Caseworker,
    CaseworkerStatus,
    DeliveryStatus,
    Direction,
    EnrolmentClaim,
    Mailbox,
    MailboxMessage,
    OutboxEntry,
    Report,
    ReportStatus,
)
from storage.purge import Deadlines, next_deadlines, unassigned_since


@dataclass(frozen=True)
class BotCertificateState:
    """The bot's certificate as the running bot would judge it today.

    ``expires`` is None when no certificate is valid today; ``problem`` then says why (and how
    to fix it), or is None when there is no certificate at all.
    """

    expires: dt.date | None
    renewal_due: bool = False
    problem: ConfigError | None = None


@dataclass(frozen=True)
class Status:
    """Everything ``sanad admin status`` shows: counts and deadlines, nothing identifying."""

    reports: Mapping[str, int]
    unassigned_overdue: int
    pending: int
    retrying: Mapping[str, int]
    failed: Mapping[str, int]
    caseworkers: Mapping[str, int]
    enrolments_waiting: int  # stored enrolment claims; /enroll is refused at the limit
    enrolments_limit: int
    deadlines: Deadlines
    replies_unverified: int  # stored replies /status does not show (I9)
    bot_certificate: BotCertificateState
    leadership: LeaderState | None = None  # PostgreSQL: who leads, since when, the epoch
    instances: Sequence[Instance] = ()  # PostgreSQL: the instances connected now


def _bot_certificate(
    state_dir: Path,
    org_public: Ed25519PublicKey,
    revocations: RevocationList | None,
    today: dt.date,
) -> tuple[BotCertificateState, BotIdentity | None]:
    # No certificate file: say so without calling load_bot_identity, which would make a bot
    # key as a side effect of a read-only command.
    if read_bot_certificate(state_dir) is None:
        return BotCertificateState(None), None
    try:
        bot = load_bot_identity(state_dir, org_public, revocations=revocations, today=today)
    except ConfigError as exc:  # BotNotCertified, or a bot key file that is not private
        return BotCertificateState(None, problem=exc), None
    return BotCertificateState(bot.verified.expires, bot.renewal_due(today)), bot


async def _count_unverified_replies(session: AsyncSession, signers: ReplySigners) -> int:
    """How many replies fail the check /status makes before opening one (no decryption)."""
    rows = await session.stream(
        select(MailboxMessage, Mailbox.public_key, Report.case_reference, Report.id)
        .join(Mailbox, Mailbox.id == MailboxMessage.mailbox_id)
        .join(Report, Report.id == Mailbox.report_id)
        .where(MailboxMessage.direction == Direction.TO_REPORTER)
        .execution_options(yield_per=256)
    )
    failing = 0
    async for message, mailbox_public, case_reference, report_id in rows:
        if not signers.vouch_for(
            message,
            case_reference=case_reference,
            report_id=report_id,
            mailbox_key_id=key_id(mailbox_public),
        ):
            failing += 1
    return failing


async def gather_status(db: Database, config: Config, now: dt.datetime) -> Status:
    """Read the counts and the earliest deadlines, in one read-only transaction.

    Raises :class:`~bot.services.caseworkers.RevocationsRolledBack` when the database's
    revocation lists stop below the high-water mark: the bot certificate and the replies would
    otherwise be judged against a list that no longer names everyone revoked.
    """
    retention = RetentionSettings.from_config(config.retention)
    today = now.astimezone(dt.UTC).date()
    org_public = config.organisation.signing_public_key
    floor = revocation_floor(config.server.state_dir, config.organisation.min_revocation_serial)
    async with db.sessionmaker() as session, session.begin():
        reports = {
            state: count
            for state, count in await session.execute(
                select(Report.status, func.count()).group_by(Report.status)
            )
        }
        caseworkers = {
            state: count
            for state, count in await session.execute(
                select(Caseworker.status, func.count()).group_by(Caseworker.status)
            )
        }
        enrolments = await session.scalar(select(func.count()).select_from(EnrolmentClaim))
        deliveries = (
            await session.execute(
                select(OutboxEntry.status, OutboxEntry.last_error, func.count())
                .where(OutboxEntry.status != DeliveryStatus.SENT)
                .group_by(OutboxEntry.status, OutboxEntry.last_error)
            )
        ).all()
        overdue = await unassigned_since(session, today - retention.unassigned_alert)
        deadlines = await next_deadlines(
            session,
            closed_report_retention=retention.closed_report,
            mailbox_retention=retention.mailbox,
        )
        revocations = await latest_revocations(session, org_public, min_serial=floor)
        bot_certificate, bot = _bot_certificate(
            config.server.state_dir, org_public, revocations, today
        )
        # Without a valid certificate the bot does not start, so its replies show to no one.
        signers = await reply_signers(
            session,
            org_public,
            today,
            revocations=revocations,
            bot_key=bot.public_key if bot is not None else None,
        )
        unverified = await _count_unverified_replies(session, signers)
        if db.backend is Backend.POSTGRESQL:
            leadership: LeaderState | None = await leader_state(session)
            connected = await instances(session)
        else:
            leadership, connected = None, []
    retrying: dict[str, int] = {}
    failed: dict[str, int] = {}
    pending = 0
    for status, error, count in deliveries:
        if status is DeliveryStatus.PENDING:
            pending += count
            if error is not None:  # pending after a failed attempt: waiting to retry
                retrying[error] = retrying.get(error, 0) + count
        else:
            failed[error or "unknown"] = failed.get(error or "unknown", 0) + count
    return Status(
        reports={s.value: reports.get(s, 0) for s in ReportStatus},
        unassigned_overdue=overdue,
        pending=pending,
        retrying=retrying,
        failed=failed,
        caseworkers={s.value: caseworkers.get(s, 0) for s in CaseworkerStatus},
        enrolments_waiting=int(enrolments or 0),
        enrolments_limit=MAX_PENDING_ENROLMENTS,
        deadlines=deadlines,
        replies_unverified=unverified,
        bot_certificate=bot_certificate,
        leadership=leadership,
        instances=connected,
    )
