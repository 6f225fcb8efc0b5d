"""Submitting a reporter's draft: seal it, store it in one transaction, hand back the receipt.

This is the :class:`handlers.ports.ReportSubmitter` the reporter flow calls. In order:

1. the draft becomes a ``crypto`` :class:`~crypto.ReportBody` — answers under stable keys with the
   flow's codes as values (never translated labels), then the cleaned attachments, each with the
   record of its original (:class:`~crypto.OriginalFile`);
2. a fresh receipt is generated and turned into the mailbox lookup tag and key pair through the
   bounded Argon2id pool, in its submission lane (:class:`~crypto.KdfPool`): submissions go
   before receipt look-ups and have a worker of their own, so a flood of guesses never makes a
   report wait, and a burst of reporters pressing Submit together waits in line rather than
   being refused (only a line longer than ``limits.submission_queue_size`` is
   :class:`SubmissionBusy`);
3. recipients are the organisation recovery key from the configuration plus the eligible
   caseworker the routing rule picks — one who reads the report's language, then the fewest open
   cases (:func:`bot.services.caseworkers.choose_caseworker`, whose certificate is verified
   against the pinned organisation key, I4) — or the recovery key alone when no caseworker is
   eligible (the report waits for an admin to assign it);
4. the body is sealed under a fresh report id, bound to the mailbox key so a reply can only go to
   this reporter's mailbox;
5. unless the disk keeps ``limits.min_free_disk_bytes`` free after the sealed report
   (:class:`SubmissionNoRoom`, nothing written), report, body, wraps, mailbox and (when
   assigned) the outbox row are committed together by
   :func:`storage.reports.store_report`, which returns after the commit — so the receipt reaches
   the flow only once the report is durable (I8). Only the day is stored (I3); the forward job
   adds the batching delay. Then, and only then, the report is counted
   (:func:`bot.metrics.report_submitted`, published on the hour).

Nothing here logs content; the receipt leaves this module only inside the returned
:class:`~handlers.ports.Submission`, whose ``repr`` is redacted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from telegram.ext import Application

from bot import metrics
from bot.config import Config
from bot.logs import event, get_logger
from bot.revocation_mark import revocation_floor
from bot.runtime import Runtime
from bot.services.caseworkers import choose_caseworker
from bot.services.key_lifecycle import PepperRing, load_pepper_ring
from crypto import (
    Answer,
    Attachment,
    AttachmentKind,
    Busy,
    EnvelopeKind,
    KdfPool,
    Lane,
    ReportBody,
    generate_receipt,
    new_report_id,
    seal_report,
)
from crypto.keys import Ed25519PublicKey, X25519PublicKey

# Answer keys of a report body (crypto.report_fields: the desk reads the same ones).
from crypto.report_fields import (
    KEY_ADVOCACY,
    KEY_COUNTRY,
    KEY_DANGER,
    KEY_DESCRIPTION,
    KEY_LANGUAGE,
    KEY_LINK,
    KEY_MONTH,
    KEY_PLATFORM,
    KEY_PLATFORM_RESPONSE,
    KEY_REPLY_WANTED,
    KEY_TYPE,
    KEY_YEAR,
)
from handlers.budget import FreeDisk
from handlers.draft import AttachmentKind as DraftKind
from handlers.draft import Draft, DraftAttachment
from handlers.ports import (
    HousekeepingPort,
    Submission,
    SubmissionBusy,
    SubmissionError,
    SubmissionNoRoom,
)
from handlers.report_flow import ReportFlow, ReportFlowSettings, install_report_flow
from storage.engine import Database, is_disk_full
from storage.models import Language
from storage.outbox import COARSE, DeliverySchedule
from storage.reports import REPORT_SEQUENCE, NewMailbox, store_report

_log = get_logger("report_submission")


# An evidence file's kind as a report body records it (docs/crypto.md, "Report body").
_BODY_KIND = {
    DraftKind.IMAGE: AttachmentKind.PHOTO,
    DraftKind.PDF: AttachmentKind.DOCUMENT,
    DraftKind.VOICE: AttachmentKind.VOICE,
}


def body_attachment(item: DraftAttachment, file_name: str) -> Attachment:
    """A cleaned draft file as a report or addendum body carries it, under ``file_name``, with the
    record of the file as received (its SHA-256, size, type and what cleaning changed: DESIGN.md
    §4, "Evidence integrity"; the original's bytes were never kept).

    The one mapping of the flow's file kinds to the body's, for reports and addenda alike. Copies
    the bytes: the draft's buffer is zeroed when the flow wipes it. Raises ``crypto`` errors for a
    name or media type the body format refuses.
    """
    return Attachment(
        file_name=file_name,
        media_type=item.media_type,
        kind=_BODY_KIND[item.kind],
        data=bytes(item.data),
        original=item.original,
    )


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def report_body(draft: Draft) -> ReportBody:
    """The canonical body of ``draft``: answered questions only, links one answer each.

    Attachments are numbered in the order they were sent (``evidence-1.jpg``, ...): the cleaned
    files already carry neutral names, and numbering keeps them distinct on a caseworker's disk.
    """
    pairs: list[tuple[str, str | None]] = [
        (KEY_LANGUAGE, draft.language),
        (KEY_DANGER, _yes_no(draft.in_danger)),
        (KEY_TYPE, draft.incident_type),
        (KEY_PLATFORM, draft.platform),
        (KEY_COUNTRY, draft.country),
        (KEY_YEAR, draft.year),
        (KEY_MONTH, None if draft.month is None else str(draft.month)),
        (KEY_DESCRIPTION, draft.what_happened),
        *((KEY_LINK, link) for link in draft.links),
        (KEY_PLATFORM_RESPONSE, draft.platform_response),
        (KEY_REPLY_WANTED, _yes_no(draft.wants_reply)),
        (KEY_ADVOCACY, _yes_no(draft.advocacy_consent)),
    ]
    answers = [Answer(key, value) for key, value in pairs if value is not None]
    attachments = [
        body_attachment(item, f"evidence-{index}.{item.filename.rsplit('.', 1)[-1]}")
        for index, item in enumerate(draft.attachments, start=1)
    ]
    return ReportBody(answers, attachments)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReportSubmissionService:
    """Seals and commits drafts (see the module docstring); one instance per bot process.

    ``organisation_signing_key`` and ``recovery_key`` must come from the configuration
    (``[organisation]``), never from the database (I4). ``receipt_salt`` is a server secret
    (``bot.server_secrets``); ``peppers`` is the receipt pepper ring, whose current pepper keys
    every new mailbox (``sanad admin rotate-pepper`` adds one; the mailbox service still finds
    mailboxes keyed under the older ones).
    """

    def __init__(
        self,
        database: Database,
        kdf_pool: KdfPool,
        *,
        organisation_signing_key: Ed25519PublicKey,
        recovery_key: X25519PublicKey,
        receipt_salt: bytes,
        peppers: PepperRing,
        revocation_floor: Callable[[], int],
        free_disk: FreeDisk | None = None,
        clock: Callable[[], dt.datetime] = _now,
        delivery_schedule: DeliverySchedule = COARSE,
    ) -> None:
        """``revocation_floor`` gives the lowest revocation list serial to accept, read at each
        submission (the mark only grows, and an admin may raise it while the bot runs): below it,
        nothing is sealed (:class:`bot.services.caseworkers.RevocationsRolledBack`).
        ``delivery_schedule`` jitters and rounds when a report may first go (I3)."""
        self._database = database
        self._kdf_pool = kdf_pool
        self._organisation = organisation_signing_key
        self._recovery = recovery_key
        self._salt = receipt_salt
        self._peppers = peppers
        self._revocation_floor = revocation_floor
        self._free_disk = free_disk or FreeDisk()
        self._clock = clock
        self._delivery_schedule = delivery_schedule

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> ReportSubmissionService:
        """The service of the running bot: its database, Argon2id pool, secrets and pinned keys."""
        config = runtime.config
        organisation = config.organisation
        return cls(
            runtime.database,
            runtime.kdf_pool,
            organisation_signing_key=organisation.signing_public_key,
            recovery_key=organisation.recovery_public_key,
            receipt_salt=runtime.secrets.receipt_salt,
            peppers=load_pepper_ring(config.server.state_dir, runtime.secrets.receipt_pepper),
            revocation_floor=partial(
                revocation_floor, config.server.state_dir, organisation.min_revocation_serial
            ),
            delivery_schedule=DeliverySchedule.from_seconds(
                config.delivery.batch_interval_seconds, config.delivery.jitter_seconds
            ),
            free_disk=free_disk(config),
        )

    def __repr__(self) -> str:
        return "ReportSubmissionService(<secrets redacted>)"

    async def submit(self, draft: Draft) -> Submission:
        """Seal and commit ``draft``; return the case reference and receipt after the commit.

        Raises :class:`SubmissionBusy` when the sealing line is full, :class:`SubmissionNoRoom`
        when the disk is too full, and :class:`SubmissionError` for any other failure; in each
        case nothing was committed. Keeps no reference to ``draft``.
        """
        # Built before any await: the flow's draft must not change under us mid-way.
        body = report_body(draft)
        language = Language(draft.language)
        receipt = generate_receipt()
        try:
            mailbox = await self._kdf_pool.derive_mailbox(
                receipt, salt=self._salt, pepper=self._peppers.current, lane=Lane.SUBMISSION
            )
        except Busy as exc:
            event(_log, "submission_busy")
            raise SubmissionBusy from exc
        try:
            now = self._clock()
            today = now.date()  # I3: the day, never the time
            async with self._database.sessionmaker() as session:
                # A database whose revocation lists were deleted below the mark seals nothing:
                # the reporter is told it could not be saved (I9).
                caseworker = await choose_caseworker(
                    session,
                    self._organisation,
                    today,
                    language,
                    min_serial=self._revocation_floor(),
                )
            recipients = [self._recovery]
            if caseworker is not None:
                recipients.append(caseworker.keys.encryption)
            report_id = new_report_id()
            mailbox_public = mailbox.key.public_key
            # Serialising and sealing megabytes of evidence is CPU work: off the event loop.
            sealed = await asyncio.to_thread(
                lambda: seal_report(
                    body.to_bytes(),
                    report_id=report_id,
                    sequence=REPORT_SEQUENCE,
                    kind=EnvelopeKind.REPORT,
                    recipients=recipients,
                    reply_to=mailbox_public,
                )
            )
            if not self._free_disk.has_room(len(sealed.body_sealed)):
                # Checked right before the write: a full disk is a clear answer, not a commit
                # that fails half-way (and SQLite's journal needs room too).
                event(_log, "submission_no_disk_room")
                raise SubmissionNoRoom
            stored = await store_report(
                self._database,
                report_id=report_id,
                language=language,
                body_sealed=sealed.body_sealed,
                wraps={wrap.key_id: wrap.wrap for wrap in sealed.wraps},
                mailbox=NewMailbox(
                    mailbox.lookup_tag, mailbox_public.raw, self._peppers.current_version
                ),
                today=today,
                assigned_caseworker_id=caseworker.caseworker_id if caseworker else None,
                # I3: jittered and on the forward job's grid, never the submission instant.
                deliver_not_before=(
                    self._delivery_schedule.first_attempt(now) if caseworker else None
                ),
            )
        except SubmissionNoRoom:
            raise
        except Exception as exc:
            if is_disk_full(exc):
                # The disk filled after the check above (another writer, the journal): the same
                # answer, "nothing was kept, try later"; the transaction rolled back whole.
                event(_log, "submission_no_disk_room")
                raise SubmissionNoRoom from exc
            # Driver and crypto errors may carry values; the flow needs only "not saved".
            event(_log, f"submission_failed.{type(exc).__name__}")
            raise SubmissionError from exc
        metrics.report_submitted()  # store_report has committed: the report is durable
        event(
            _log,
            "report_stored",
            assigned=int(caseworker is not None),
            attachments=len(body.attachments),
        )
        return Submission(stored.case_reference, receipt)


def free_disk(config: Config) -> FreeDisk:
    """Where the bot writes — the state directory and, on SQLite, the database's directory —
    with the room ``limits.min_free_disk_bytes`` it must keep free there."""
    paths = [config.server.state_dir]
    url = make_url(config.database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        paths.append(Path(url.database).parent)
    return FreeDisk(tuple(paths), config.limits.min_free_disk_bytes)


def report_flow_settings(config: Config) -> ReportFlowSettings:
    """The reporter flow's settings from ``[organisation]`` and ``[limits]``."""
    organisation, limits = config.organisation, config.limits
    return ReportFlowSettings(
        organisation_name=organisation.name,
        languages=tuple(organisation.languages),
        countries=tuple(organisation.countries),
        emergency_contacts=tuple((c.label, c.value) for c in organisation.emergency_contacts),
        max_text_chars=limits.max_text_chars,
        max_file_bytes=limits.max_file_bytes,
        max_files=limits.max_files,
        max_messages_per_minute=limits.max_messages_per_minute,
        flood_burst=limits.flood_burst,
        conversation_timeout=dt.timedelta(minutes=limits.conversation_timeout_minutes),
        draft_memory_bytes=limits.draft_memory_bytes,
        reports_per_day=limits.reports_per_day,
        free_disk=free_disk(config),
    )


def register_report_flow(
    application: Application[Any, Any, Any, Any, Any, Any],
    runtime: Runtime,
    housekeeping: HousekeepingPort,
) -> ReportFlow:
    """The reporter's /start flow on the running bot (one line in ``bot.app``).

    Register it after the status flow (:func:`bot.services.mailbox.register_status`), and call
    ``flow.hand_over(application)`` from ``post_stop`` so open conversations are still erased.
    """
    return install_report_flow(
        application,
        report_flow_settings(runtime.config),
        ReportSubmissionService.from_runtime(runtime),
        housekeeping,
    )
