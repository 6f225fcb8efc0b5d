"""The reporter's mailbox: caseworkers' replies in, status and additions out (DESIGN.md §4).

Three use cases, each one transaction:

- :meth:`MailboxService.store_reply` — a verified caseworker's ``/reply CASE TEXT``: the text is
  sealed at once to the reporter's mailbox key (``crypto.seal_reply``), the reply statement is
  signed with the bot key (I9), and both are stored as a ``to_reporter`` message; the case goes
  ``in_progress``. The bot cannot read it back (I5).
- :meth:`MailboxService.store_reply_file` — a reply file made offline by ``sanad caseworker
  reply``: its signature is checked against the caseworker's *certified* signing key (I4, through
  :mod:`bot.services.caseworkers`), its statement against the case, the reporter's mailbox key
  and the next number, and the sealed reply is stored unopened with its signature.
- :meth:`MailboxService.look_up` and :meth:`MailboxService.add_information` — the reporter's
  ``/status``: the receipt is turned into the mailbox's lookup tag and key through the bounded
  Argon2id pool, the replies whose signature verifies now (:mod:`bot.services.reply_signatures`)
  are opened in memory and the others are dropped unopened, and an addition is sealed as an
  addendum under its own data key to the recovery key and the assigned caseworker, with its
  wraps and outbox row committed together (I8).

No oracle (docs/crypto.md, "Receipts"): an unknown receipt runs the same Argon2id and the same
statements (find the mailbox by tag, read its messages, touch ``last_lookup_day``, read who may
sign replies) as a known one with no replies, and :meth:`look_up` returns ``None`` for it; the
conversation then answers both alike. An addition under it is sealed and written durably, then
deleted in the same transaction (:meth:`MailboxService.discard_information`). The only
differences left are the ones the caller asked for (replies, a state past ``received``), and
they go only to whoever holds the receipt.

Reply numbers: a reply's sequence number is bound into its envelope, so the number it is stored
under must be the number it was sealed with. ``/reply`` takes the mailbox's next number inside
its transaction; a reply file carries the number chosen on the caseworker's machine and is
accepted only if that is the next one, which also refuses a replayed upload of the same file.

Handlers never see keys, ciphertext or SQL: they hold a :class:`MailboxAccess` (opaque, repr
redacted) between looking up and adding, and get back plain text and numbers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application

from bot.bot_identity import BotIdentity
from bot.errors import SanadError
from bot.logs import event, get_logger
from bot.revocation_mark import revocation_floor
from bot.runtime import Runtime
from bot.services.caseworkers import (
    Recipient,
    eligible_caseworker,
    eligible_caseworkers_for_chat,
    latest_revocations,
)
from bot.services.key_lifecycle import (
    PepperRing,
    derive_receipt_lookup,
    load_pepper_ring,
    rekey_mailbox,
)
from bot.services.reply_signatures import certified_bot_key, reply_signers
from bot.services.report_submission import body_attachment, report_flow_settings
from crypto import (
    Answer,
    CryptoError,
    EnvelopeKind,
    KdfPool,
    MailboxSecrets,
    MalformedReplyFile,
    OpenFailure,
    Receipt,
    ReplyFile,
    ReplySigner,
    ReplyStatement,
    ReportBody,
    SealedReport,
    UnsupportedVersion,
    new_report_id,
    open_reply,
    read_reply_file,
    safe_file_name,
    seal_reply,
    seal_report,
)
from crypto.keys import Ed25519PublicKey, X25519PublicKey, X25519SecretKey
from crypto.receipts import LOOKUP_TAG_BYTES
from crypto.report_fields import KEY_ADDENDUM_TEXT
from handlers.draft import Draft
from handlers.ports import HousekeepingPort
from handlers.reply_commands import install_reply_commands
from handlers.status_flow import StatusFlow, install_status_flow
from storage import outbox
from storage.engine import Database
from storage.models import (
    BodyKind,
    DeliveryKind,
    Direction,
    Language,
    Mailbox,
    MailboxMessage,
    Report,
    ReportStatus,
)
from storage.outbox import DEFAULT_GRID, DeliverySchedule
from storage.repositories import MailboxRepository, ReportRepository

_log = get_logger("mailbox")

# Caseworker-facing refusals, English only, in one place.
NOT_YOUR_CASE = "you can reply only to an open case assigned to you, as a verified caseworker"
NOT_A_REPLY_FILE = "this is not a reply file made by `sanad caseworker reply`, or it is damaged"
NEWER_VERSION = "this reply file was made by another version of Sanad"
NOT_YOUR_SIGNATURE = "this reply file is not signed by your verified key"
WRONG_CASE_BINDING = "this reply file names a case reference that does not match its report"
WRONG_MAILBOX = "this reply file is sealed to another mailbox than this case's reporter"


class MailboxError(SanadError):
    """A mailbox operation was refused; the message is for the person who asked."""


class ReplyRefused(MailboxError):
    """This reply cannot be stored (the message says why)."""


class WrongReplyNumber(ReplyRefused):
    """The reply file was numbered for another position in the mailbox: make it again."""

    def __init__(self, given: int, expected: int) -> None:
        # ``given`` and ``expected`` are mailbox sequences (from 0); people count from 1.
        super().__init__(
            f"this file is reply {given + 1} to the case, but the next reply is {expected + 1}",
            hint=f"make it again with --number {expected + 1}",
        )
        self.expected = expected


class UnknownMailbox(MailboxError, LookupError):
    """No mailbox matches what the reporter holds (unknown receipt, or purged since)."""


class NothingToAdd(MailboxError):
    """An addition needs text or at least one file."""


@dataclass(frozen=True)
class MailboxAccess:
    """What a receipt opened: the lookup tag and mailbox key. Opaque to handlers; never printed.

    Held in memory for the few minutes a ``/status`` conversation lasts, and dropped with it.
    """

    secrets: MailboxSecrets = field(repr=False)

    def __repr__(self) -> str:
        return "MailboxAccess(<redacted>)"


@dataclass(frozen=True)
class MailboxView:
    """A case as its reporter sees it: its state and the caseworkers' replies, oldest first."""

    state: ReportStatus
    replies: list[str] = field(repr=False)
    access: MailboxAccess


@dataclass(frozen=True)
class StoredReply:
    """A reply now committed to a mailbox: for the caseworker's confirmation."""

    case_reference: str
    sequence: int


@dataclass(frozen=True)
class MailboxSettings:
    """What the service needs from the configuration and the server secrets."""

    org_signing_public: Ed25519PublicKey
    recovery_public: X25519PublicKey
    receipt_salt: bytes = field(repr=False)
    receipt_pepper: bytes = field(repr=False)
    jitter_seconds: float
    # The forward job's batch interval: an addendum's delivery time is rounded up onto it (I3).
    delivery_interval_seconds: float = DEFAULT_GRID.total_seconds()
    # Every accepted pepper version (bot.services.key_lifecycle); None: ``receipt_pepper`` alone.
    peppers: PepperRing | None = None
    # The lowest revocation list serial to accept (bot.revocation_mark), read at each use. No
    # default: a caller that forgot it would accept a list a database writer rolled back.
    revocation_floor: Callable[[], int] = field(kw_only=True, repr=False)

    def pepper_ring(self) -> PepperRing:
        return self.peppers or PepperRing({1: self.receipt_pepper})

    def __repr__(self) -> str:
        return "MailboxSettings(<redacted>)"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MailboxService:
    """Replies, look-ups and additions over one database and one bounded Argon2id pool."""

    def __init__(
        self,
        database: Database,
        kdf_pool: KdfPool,
        settings: MailboxSettings,
        *,
        bot: BotIdentity,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        """``bot`` signs every ``/reply`` and vouches for those replies at ``/status`` (I9)."""
        self._db = database
        self._pool = kdf_pool
        self._settings = settings
        self._bot = bot
        self._clock = clock

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> MailboxService:
        """The service over the running bot's database, pool, secrets and configuration."""
        config = runtime.config
        return cls(
            runtime.database,
            runtime.kdf_pool,
            MailboxSettings(
                org_signing_public=config.organisation.signing_public_key,
                recovery_public=config.organisation.recovery_public_key,
                receipt_salt=runtime.secrets.receipt_salt,
                receipt_pepper=runtime.secrets.receipt_pepper,
                jitter_seconds=config.delivery.jitter_seconds,
                delivery_interval_seconds=config.delivery.batch_interval_seconds,
                peppers=load_pepper_ring(config.server.state_dir, runtime.secrets.receipt_pepper),
                revocation_floor=partial(
                    revocation_floor,
                    config.server.state_dir,
                    config.organisation.min_revocation_serial,
                ),
            ),
            bot=runtime.bot,
        )

    def _today(self) -> dt.date:
        return self._clock().date()

    # -- caseworkers ---------------------------------------------------------------------------

    async def _recipients_of_chat(self, session: AsyncSession, chat_id: int) -> list[Recipient]:
        """The eligible caseworker rows (every key generation) delivering to ``chat_id`` (I4)."""
        return await eligible_caseworkers_for_chat(
            session,
            chat_id,
            self._settings.org_signing_public,
            self._today(),
            min_serial=self._settings.revocation_floor(),
        )

    async def _open_case_of(
        self, session: AsyncSession, chat_id: int, case_reference: str
    ) -> tuple[Report, Mailbox, list[Recipient]]:
        """The open case ``case_reference`` if assigned to the caseworker of ``chat_id``.

        One refusal for an unknown case, someone else's, a closed one or a caseworker who is not
        (or no longer) eligible, so the command says nothing about other people's cases.
        """
        recipients = await self._recipients_of_chat(session, chat_id)
        report = await ReportRepository(session).get_by_case_reference(case_reference)
        mailbox = await MailboxRepository(session).get_by_report(report.id) if report else None
        if (
            report is None
            or mailbox is None
            or report.status is ReportStatus.CLOSED
            or report.assigned_caseworker_id not in {r.caseworker_id for r in recipients}
        ):
            raise ReplyRefused(NOT_YOUR_CASE)
        return report, mailbox, recipients

    @staticmethod
    async def _next_reply_number(session: AsyncSession, mailbox: Mailbox) -> int:
        messages = await MailboxRepository(session).messages(mailbox)
        return messages[-1].sequence + 1 if messages else 0

    async def store_reply(self, *, chat_id: int, case_reference: str, text: str) -> StoredReply:
        """Seal ``text`` to the reporter's mailbox, sign it with the bot key and store it; the
        case goes in progress.

        ``chat_id`` is the caseworker's own chat. Raises :class:`ReplyRefused` unless the case is
        open and assigned to a verified caseworker delivering to that chat. Commits.
        """
        if not text.strip():
            raise ReplyRefused("a reply needs some text")
        async with self._db.sessionmaker() as session, session.begin():
            report, mailbox, _recipients = await self._open_case_of(
                session, chat_id, case_reference
            )
            sequence = await self._next_reply_number(session, mailbox)
            mailbox_public = X25519PublicKey(mailbox.public_key)
            # I9: the bot vouches for what it sealed for a verified caseworker; /status shows
            # the reply only while this signature verifies for this case, mailbox and number.
            statement = ReplyStatement(
                signer=ReplySigner.BOT,
                case_reference=report.case_reference,
                report_id=report.id,
                mailbox_key_id=mailbox_public.key_id,
                sequence=sequence,
                sealed_reply=seal_reply(
                    text, report_id=report.id, sequence=sequence, mailbox_public=mailbox_public
                ),
            )
            await self._append_reply(
                session,
                report,
                mailbox,
                statement,
                signer_key_id=self._bot.public_key.key_id,
                signature=statement.sign(self._bot.key),
            )
            reference = report.case_reference
        event(_log, "reply.stored", signed_file=0)
        return StoredReply(reference, sequence)

    async def store_reply_file(self, *, chat_id: int, data: bytes) -> StoredReply:
        """Check an uploaded reply file and store its sealed reply unopened, with the signature.

        The signature must verify against the certified signing key of a verified caseworker
        delivering to ``chat_id`` (docs/crypto.md, "Mailbox messages and replies"); the statement
        it covers must name an open case of theirs, with its report id, its reporter's mailbox
        key and the mailbox's next number. Raises :class:`ReplyRefused` (or
        :class:`WrongReplyNumber`) otherwise. Commits.
        """
        try:
            reply_file = read_reply_file(data)
        except UnsupportedVersion as exc:
            raise ReplyRefused(NEWER_VERSION) from exc
        except MalformedReplyFile as exc:
            raise ReplyRefused(NOT_A_REPLY_FILE) from exc
        statement = reply_file.statement
        async with self._db.sessionmaker() as session, session.begin():
            recipients = await self._recipients_of_chat(session, chat_id)
            signer = next((r for r in recipients if _signed_by(reply_file, r)), None)
            if signer is None:
                # No eligible key of this chat signed it: a forgery, a revoked or unverified
                # caseworker, or someone else's file. Not a word about which.
                raise ReplyRefused(NOT_YOUR_SIGNATURE if recipients else NOT_YOUR_CASE)
            report, mailbox, _ = await self._open_case_of(
                session, chat_id, statement.case_reference
            )
            if report.id != statement.report_id:
                raise ReplyRefused(WRONG_CASE_BINDING)
            # The statement is checked again at every /status against what is stored; refusing
            # a mismatch here tells the caseworker now rather than leaving a reply nobody sees.
            if statement.mailbox_key_id != X25519PublicKey(mailbox.public_key).key_id:
                raise ReplyRefused(WRONG_MAILBOX)
            expected = await self._next_reply_number(session, mailbox)
            if statement.sequence != expected:
                raise WrongReplyNumber(statement.sequence, expected)
            await self._append_reply(
                session,
                report,
                mailbox,
                statement,
                signer_key_id=signer.keys.signing.key_id,
                signature=reply_file.signature,
            )
            reference = report.case_reference
        event(_log, "reply.stored", signed_file=1)
        return StoredReply(reference, statement.sequence)

    async def _append_reply(
        self,
        session: AsyncSession,
        report: Report,
        mailbox: Mailbox,
        statement: ReplyStatement,
        *,
        signer_key_id: bytes,
        signature: bytes,
    ) -> None:
        message = await MailboxRepository(session).add_message(
            mailbox,
            direction=Direction.TO_REPORTER,
            message_sealed=statement.sealed_reply,
            today=self._today(),  # I3: the day only
            signer=statement.signer.value,
            signer_key_id=signer_key_id,
            signature=signature,
        )
        if message.sequence != statement.sequence:
            # The envelope and the signature bind the number: stored under another one, the
            # reply would never show.
            raise ReplyRefused("another reply to this case was stored at the same moment; retry")
        report.status = ReportStatus.IN_PROGRESS

    # -- the reporter ----------------------------------------------------------------------------

    async def look_up(self, receipt: Receipt) -> MailboxView | None:
        """The case and replies ``receipt`` opens, or None when it opens nothing.

        Runs Argon2id through the bounded pool: raises ``crypto.Busy`` at once when the pool is
        full, before any database work. An unknown receipt costs the same work as a known mailbox
        with nothing in it. Only replies whose signature verifies now (I9,
        :mod:`bot.services.reply_signatures`) are opened; any other is left out unopened, and
        both kinds of omission are counted in the log.
        """
        # One Argon2id run gives the tag under every accepted pepper (docs/crypto.md, "Receipts").
        lookup = await derive_receipt_lookup(
            self._pool, receipt, salt=self._settings.receipt_salt, ring=self._settings.pepper_ring()
        )
        mailbox_secrets, tags = lookup.current, list(lookup.tags)
        org_public = self._settings.org_signing_public
        today = self._today()
        async with self._db.sessionmaker() as session, session.begin():
            found = (
                await session.execute(
                    select(Mailbox, Report)
                    .join(Report, Report.id == Mailbox.report_id)
                    .where(Mailbox.lookup_tag.in_(tags))
                )
            ).first()
            mailbox, report = found if found is not None else (None, None)
            # Both paths run the same statements: an id no row has when the tag is unknown.
            messages = list(
                await session.scalars(
                    select(MailboxMessage)
                    .where(
                        MailboxMessage.mailbox_id == (mailbox.id if mailbox is not None else -1),
                        MailboxMessage.direction == Direction.TO_REPORTER,
                    )
                    .order_by(MailboxMessage.sequence)
                )
            )
            if mailbox is not None:
                rekey_mailbox(mailbox, lookup)  # found under an older pepper: move it now
            await session.execute(
                update(Mailbox)
                .where(Mailbox.lookup_tag.in_(tags))
                .values(last_lookup_day=today)  # I3: the day only
                .execution_options(synchronize_session=False)
            )
            # Who may vouch for a reply is read on both paths too, replies or not.
            revocations = await latest_revocations(
                session, org_public, min_serial=self._settings.revocation_floor()
            )
            signers = await reply_signers(
                session,
                org_public,
                today,
                revocations=revocations,
                bot_key=certified_bot_key(self._bot, org_public, revocations, today),
            )
        if mailbox is None or report is None:
            event(_log, "mailbox.looked_up", found=0)
            return None
        # The mailbox key the receipt derives, not the stored column: a reply signed for
        # another mailbox does not verify here.
        mailbox_key_id = mailbox_secrets.key.public_key.key_id
        vouched = [
            m
            for m in messages
            if signers.vouch_for(
                m,
                case_reference=report.case_reference,
                report_id=report.id,
                mailbox_key_id=mailbox_key_id,
            )
        ]
        if len(vouched) != len(messages):
            # I9: forged, moved, altered or no longer vouched for; not opened, not shown.
            event(_log, "mailbox.reply_unverified", replies=len(messages) - len(vouched))
        replies = self._open_replies(report.id, vouched, mailbox_secrets)
        event(_log, "mailbox.looked_up", found=1, replies=len(replies))
        return MailboxView(report.status, replies, MailboxAccess(mailbox_secrets))

    @staticmethod
    def _open_replies(
        report_id: bytes, messages: Sequence[MailboxMessage], mailbox_secrets: MailboxSecrets
    ) -> list[str]:
        replies: list[str] = []
        for message in messages:
            try:
                replies.append(
                    open_reply(
                        message.message_sealed,
                        report_id=report_id,
                        sequence=message.sequence,
                        mailbox_secret=mailbox_secrets.key,
                    )
                )
            except (OpenFailure, UnsupportedVersion):
                event(_log, "mailbox.reply_unopened", replies=1)
        return replies

    async def add_information(self, access: MailboxAccess, draft: Draft) -> int:
        """Seal the draft's text and files as the case's next addendum and commit it.

        The addendum has its own data key, wrapped to the recovery key and, if the case is
        assigned to a caseworker who is still eligible (I4), to them with an outbox row that
        delivers it after a random delay (I3). Body, wraps, sequence counter and outbox row
        commit together. Returns the addendum's sequence number. Raises :class:`NothingToAdd`
        for an empty draft and :class:`UnknownMailbox` when the mailbox is gone. Does not keep
        ``draft``; the caller wipes it.

        The statement that reads the case locks its row (:func:`_case_for_addition`), as an
        admin's reassignment, rewrap or revocation does before reading the case. On PostgreSQL
        an addition so waits for one in progress and then reads the assignment and caseworkers
        it committed, or holds it off until the addendum is committed and moved with the rest
        (I8: nothing lost for the new caseworker). That one row only: reporters never wait for
        one another's cases.
        """
        body = _addendum_body(draft)
        tag = access.secrets.lookup_tag
        mailbox_public = access.secrets.key.public_key
        async with self._db.sessionmaker() as session, session.begin():
            found = (await session.execute(_case_for_addition(tag))).first()
            if found is None or found[0].public_key != mailbox_public.raw:
                raise UnknownMailbox("no case matches this receipt any more")
            report = found[1]
            sequence = report.next_sequence
            recipient = None
            if report.assigned_caseworker_id is not None:
                recipient = await eligible_caseworker(
                    session,
                    report.assigned_caseworker_id,
                    self._settings.org_signing_public,
                    self._today(),
                    min_serial=self._settings.revocation_floor(),
                )
            recipients = [self._settings.recovery_public]
            if recipient is not None:
                recipients.append(recipient.keys.encryption)
            sealed = await _seal_addendum(
                body,
                report_id=report.id,
                sequence=sequence,
                recipients=recipients,
                reply_to=mailbox_public,
            )
            await ReportRepository(session).add_body(
                report_id=report.id,
                sequence=sequence,
                kind=BodyKind.ADDENDUM,
                body_sealed=sealed.body_sealed,
                wraps={w.key_id: w.wrap for w in sealed.wraps},
                today=self._today(),
            )
            report.next_sequence = sequence + 1
            if recipient is not None:
                await outbox.enqueue(
                    session,
                    kind=DeliveryKind.ADDENDUM,
                    caseworker_id=recipient.caseworker_id,
                    report_id=report.id,
                    sequence=sequence,
                    not_before=self._delivery_schedule().first_attempt(self._clock()),
                )
        event(
            _log,
            "addendum.stored",
            attachments=len(body.attachments),
            delivered=int(recipient is not None),
        )
        return sequence

    async def discard_information(self, draft: Draft) -> None:
        """Do the work of :meth:`add_information` for a receipt that opens nothing, keep nothing.

        An addition under an unknown receipt must look exactly like a stored one, in its answer
        and in its timing (no oracle on whether a receipt's owner ever reported): the same
        look-up, the same sealing and the same durable write. A placeholder report, with a body
        and wraps of the sizes sealing produced, is inserted and deleted again in one
        transaction, so its commit writes and syncs (SQLite's WAL, ``synchronous=FULL``;
        PostgreSQL's WAL) as a stored addition's does, and leaves no row. What is written is
        random bytes, never the sealed draft. Does not keep ``draft``; the caller wipes it.

        Its look-up is the same locking statement, which finds no row to lock. A stored addition
        waits only while an admin is moving that very case; the decoy does not mimic that wait,
        which would mean locking a real case's row.
        """
        body = _addendum_body(draft)
        placeholder_id = new_report_id()
        # Stands in for the assigned caseworker's key and the mailbox key a real case has.
        stand_in = X25519SecretKey.generate().public_key
        async with self._db.sessionmaker() as session, session.begin():
            await session.execute(_case_for_addition(secrets.token_bytes(LOOKUP_TAG_BYTES)))
            sealed = await _seal_addendum(
                body,
                report_id=placeholder_id,
                sequence=1,
                recipients=[self._settings.recovery_public, stand_in],
                reply_to=stand_in,
            )
            # Lower-case hex: never a case reference the bot issues, so it cannot collide.
            session.add(
                Report(
                    id=placeholder_id,
                    case_reference=secrets.token_hex(4),
                    language=Language.EN,
                    created_day=self._today(),
                )
            )
            await session.flush()
            await ReportRepository(session).add_body(
                report_id=placeholder_id,
                sequence=1,
                kind=BodyKind.ADDENDUM,
                body_sealed=secrets.token_bytes(len(sealed.body_sealed)),
                wraps={w.key_id: secrets.token_bytes(len(w.wrap)) for w in sealed.wraps},
                today=self._today(),
            )
            # ON DELETE CASCADE takes its body and wraps: the commit keeps nothing of it.
            await session.execute(
                delete(Report)
                .where(Report.id == placeholder_id)
                .execution_options(synchronize_session=False)
            )

    def _delivery_schedule(self) -> DeliverySchedule:
        # I3: delivery time must not reveal when the reporter wrote.
        settings = self._settings
        return DeliverySchedule.from_seconds(
            settings.delivery_interval_seconds, settings.jitter_seconds
        )


def _case_for_addition(lookup_tag: bytes) -> Select[Mailbox, Report]:
    """The mailbox and report an addition goes to, the report locked for its next number."""
    return (
        select(Mailbox, Report)
        .join(Report, Report.id == Mailbox.report_id)
        .where(Mailbox.lookup_tag == lookup_tag)
        # PostgreSQL: two additions at once must not take the same number, and an admin moving
        # the case must not read its bodies or assignment halfway (add_information).
        .with_for_update(of=Report)
    )


async def _seal_addendum(
    body: ReportBody,
    *,
    report_id: bytes,
    sequence: int,
    recipients: Sequence[X25519PublicKey],
    reply_to: X25519PublicKey,
) -> SealedReport:
    # Sealing a body with files is CPU work: off the event loop (I8).
    return await asyncio.to_thread(
        seal_report,
        body.to_bytes(),
        report_id=report_id,
        sequence=sequence,
        kind=EnvelopeKind.ADDENDUM,
        recipients=recipients,
        reply_to=reply_to,
    )


def _signed_by(reply_file: ReplyFile, recipient: Recipient) -> bool:
    """Whether this eligible caseworker's certified signing key signed ``reply_file`` (I4, I9)."""
    try:
        reply_file.verify(recipient.keys.signing)
    except CryptoError:
        return False
    return True


def _addendum_body(draft: Draft) -> ReportBody:
    """The addendum's plaintext: the text (if any), then the cleaned files."""
    answers = [Answer(KEY_ADDENDUM_TEXT, draft.what_happened)] if draft.what_happened else []
    try:
        attachments = [
            body_attachment(a, safe_file_name(a.filename, fallback=f"file-{number}"))
            for number, a in enumerate(draft.attachments, start=1)
        ]
    except CryptoError as exc:  # a media type the body format refuses: nothing is stored
        raise MailboxError("a file of this addition cannot be stored") from exc
    if not answers and not attachments:
        raise NothingToAdd("an addition needs text or a file")
    return ReportBody(answers, attachments)


def register_replies(
    application: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime
) -> None:
    """``/reply`` and reply-file uploads on the running bot (one line in ``bot.app``)."""
    install_reply_commands(application, MailboxService.from_runtime(runtime), ReplyRefused)


def register_status(
    application: Application[Any, Any, Any, Any, Any, Any],
    runtime: Runtime,
    housekeeping: HousekeepingPort,
) -> StatusFlow:
    """The reporter's ``/status`` on the running bot, with the report flow's settings.

    Call it before :func:`bot.services.report_submission.register_report_flow` (see
    :func:`handlers.status_flow.install_status_flow`, which refuses the other order).
    """
    return install_status_flow(
        application,
        MailboxService.from_runtime(runtime),
        report_flow_settings(runtime.config),
        housekeeping,
    )
