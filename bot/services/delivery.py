"""Delivery to caseworkers, the data side: what one outbox row becomes, and what came of it.

The forward job (:mod:`bot.jobs.forward`) owns the schedule and Telegram; this module owns the
rows and the bytes:

- :func:`eligible_recipients` decides who may still receive (I4): a caseworker whose certificate
  verifies against the pinned organisation key today and is not on the latest revocation list.
- :func:`build_parcel` turns a claimed delivery into a sealed report file for that caseworker only
  (``crypto.write_sealed_file``, docs/crypto.md "Sealed report file") with a neutral file name and
  caption, or raises an :class:`Undeliverable` whose class name is recorded as the error.
- :func:`give_back` returns claimed rows untried (Telegram said "not now", or the bot is
  stopping), and :func:`failed_counts_by_error` is what ``sanad admin status`` shows of failures.

On the caseworker's machine, :class:`OpenedManifest` remembers which files were opened into a
folder, so that the one repeat I8 allows (a crash between Telegram's acknowledgement and the
commit recording it) is recognised as such.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, update

from bot.errors import SanadError
from crypto import EnvelopeKind, Wrap, write_sealed_file
from crypto.keys import X25519PublicKey
from storage.engine import Database
from storage.models import (
    DeliveryKind,
    DeliveryStatus,
    Mailbox,
    OutboxEntry,
    Report,
    ReportBody,
)
from storage.models import Wrap as StoredWrap
from storage.outbox import Delivery

# The only words a caseworker's chat shows beside the file (STYLE.md: one place per module).
# Neutral on purpose: no date, language, kind or content, so a glance at an unlocked phone, or
# Telegram's own view of the chat, learns a case reference and a number and nothing else.
_FILE_NAME = "case-{reference}-{sequence}.sanad"
_CAPTION = "{reference} #{sequence}"

_FILE_KINDS = {
    DeliveryKind.REPORT: EnvelopeKind.REPORT,
    DeliveryKind.ADDENDUM: EnvelopeKind.ADDENDUM,
}


class Undeliverable(SanadError):
    """This delivery cannot be made however often it is tried; it is recorded as failed."""


class CaseworkerNotEligible(Undeliverable):
    """The caseworker's certificate no longer verifies (expired, revoked, never signed)."""

    def __init__(self) -> None:
        super().__init__("the caseworker may no longer receive reports")


class SealedPartsMissing(Undeliverable):
    """The report, its body or this caseworker's wrap is gone (purged, revoked, reassigned)."""

    def __init__(self) -> None:
        super().__init__("the sealed parts of this delivery no longer exist")


class UnsupportedDelivery(Undeliverable):
    """The forward job does not deliver this kind of outbox row."""

    def __init__(self) -> None:
        super().__init__("this kind of delivery is not sent as a sealed report file")


@dataclass(frozen=True)
class Recipient:
    """Where an eligible caseworker receives files, and the key id their wraps are under.

    Only for caseworkers found eligible (I4, ``bot.services.caseworkers``): being a Recipient is
    what lets a file be built for them.
    """

    caseworker_id: int
    chat_id: int
    key_id: bytes


@dataclass(frozen=True)
class Parcel:
    """One sealed report file ready to send: to whom, under which neutral name and caption."""

    delivery: Delivery
    chat_id: int
    file_name: str
    caption: str
    content: bytes = field(repr=False)


def delivery_file_name(case_reference: str, sequence: int) -> str:
    """``case-K7Q4M2P-0.sanad``: the case reference and sequence number, nothing else."""
    return _FILE_NAME.format(reference=case_reference.replace("-", ""), sequence=sequence)


def delivery_caption(case_reference: str, sequence: int) -> str:
    """``K7Q-4M2P #0``: a repeat (I8) shows the same caption as the file it repeats."""
    return _CAPTION.format(reference=case_reference, sequence=sequence)


async def build_parcels(
    db: Database, deliveries: Sequence[Delivery], recipients: Mapping[int, Recipient]
) -> list[Parcel | tuple[Delivery, Undeliverable]]:
    """The sealed report file for each delivery, in order, or why it cannot be made.

    Reads in one short transaction; nothing is written. A delivery whose caseworker is not in
    ``recipients`` is :class:`CaseworkerNotEligible`; one whose report, body or wrap for that
    caseworker's key is gone is :class:`SealedPartsMissing`; a notice is
    :class:`UnsupportedDelivery`.
    """
    results: list[Parcel | tuple[Delivery, Undeliverable]] = []
    async with db.sessionmaker() as session, session.begin():
        for delivery in deliveries:
            recipient = recipients.get(delivery.caseworker_id)
            kind = _FILE_KINDS.get(delivery.kind)
            if kind is None:
                results.append((delivery, UnsupportedDelivery()))
                continue
            if recipient is None:
                results.append((delivery, CaseworkerNotEligible()))
                continue
            row = (
                await session.execute(
                    select(Report.case_reference, ReportBody.body_sealed, StoredWrap.wrap)
                    .join(ReportBody, ReportBody.report_id == Report.id)
                    .join(
                        StoredWrap,
                        (StoredWrap.report_id == ReportBody.report_id)
                        & (StoredWrap.sequence == ReportBody.sequence),
                    )
                    .where(
                        Report.id == delivery.report_id,
                        ReportBody.sequence == delivery.sequence,
                        StoredWrap.recipient_key_id == recipient.key_id,
                    )
                )
            ).first()
            if row is None:
                results.append((delivery, SealedPartsMissing()))
                continue
            case_reference, body_sealed, wrap = row
            mailbox_key = await session.scalar(
                select(Mailbox.public_key).where(Mailbox.report_id == delivery.report_id)
            )
            # The reply-to key is the mailbox key the body was sealed with: it is part of the
            # body's associated data, so the file opens only with that same key in it.
            content = write_sealed_file(
                kind=kind,
                case_reference=case_reference,
                report_id=delivery.report_id,
                sequence=delivery.sequence,
                reply_to=X25519PublicKey(mailbox_key) if mailbox_key is not None else None,
                wrap=Wrap(recipient.key_id, wrap),
                body_sealed=body_sealed,
            )
            results.append(
                Parcel(
                    delivery=delivery,
                    chat_id=recipient.chat_id,
                    file_name=delivery_file_name(case_reference, delivery.sequence),
                    caption=delivery_caption(case_reference, delivery.sequence),
                    content=content,
                )
            )
    return results


async def give_back(
    db: Database, delivery_ids: Sequence[int], *, worker: str, not_before: dt.datetime
) -> int:
    """Return claimed, untried rows to the outbox, due again at ``not_before``; commits.

    Unlike ``storage.outbox.release`` this counts no attempt: Telegram's ``RetryAfter`` and a
    stopping bot are not failures of the delivery, so they must never push it towards
    ``failed``. Only rows ``worker`` still holds are touched; returns how many.
    """
    if not delivery_ids:
        return 0
    statement = (
        update(OutboxEntry)
        .where(
            OutboxEntry.id.in_(list(delivery_ids)),
            OutboxEntry.claimed_by == worker,
            OutboxEntry.status == DeliveryStatus.PENDING,
        )
        .values(claimed_until=None, claimed_by=None, not_before=not_before)
        .returning(OutboxEntry.id)
        .execution_options(synchronize_session=False)
    )
    async with db.sessionmaker() as session, session.begin():
        return len((await session.scalars(statement)).all())


async def failed_counts_by_error(db: Database) -> dict[str, int]:
    """Failed deliveries per error class (``Forbidden``, ``CaseworkerNotEligible``, ...).

    For ``sanad admin status``: counts only, never which case or caseworker.
    """
    async with db.sessionmaker() as session, session.begin():
        rows = (
            await session.execute(
                select(OutboxEntry.last_error, func.count())
                .where(OutboxEntry.status == DeliveryStatus.FAILED)
                .group_by(OutboxEntry.last_error)
            )
        ).all()
    return {str(error or "unknown"): int(count) for error, count in rows}


# --- on the caseworker's machine ---

MANIFEST_NAME = ".sanad-opened.json"


class OpenedManifest:
    """The files already opened into one folder: (case reference, sequence, body hash).

    I8 allows one kind of repeat, and it carries the same case reference and sequence number as
    the file it repeats; this manifest lets ``sanad caseworker open`` say so instead of leaving
    the caseworker to wonder whether a second report arrived. It holds no content: a case
    reference, a number and a SHA-256 of the still sealed body. The file is written owner-only,
    replaced atomically, and a damaged manifest is treated as empty rather than blocking an open.
    """

    def __init__(self, folder: Path) -> None:
        self._path = folder / MANIFEST_NAME
        self._entries: set[tuple[str, int, str]] = set()
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
            self._entries = {(str(r), int(s), str(h)) for r, s, h in raw["opened"]}
        except (OSError, ValueError, KeyError, TypeError):
            self._entries = set()

    @staticmethod
    def body_hash(body_sealed: bytes) -> str:
        """The hash that tells a repeat (same bytes) from a different file with the same label."""
        return hashlib.sha256(body_sealed).hexdigest()

    def repeats(self, case_reference: str, sequence: int, body_sealed: bytes) -> bool:
        """True if this very file (same case, sequence and sealed body) was opened here before."""
        return (case_reference, sequence, self.body_hash(body_sealed)) in self._entries

    def record(self, case_reference: str, sequence: int, body_sealed: bytes) -> None:
        """Remember this file as opened; writes the manifest."""
        self._entries.add((case_reference, sequence, self.body_hash(body_sealed)))
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"opened": sorted(self._entries)}, handle)
        os.replace(temporary, self._path)
