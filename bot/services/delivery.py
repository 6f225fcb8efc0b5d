"""Delivery to caseworkers, the data side: what one outbox row becomes, and what came of it.

The forward job (:mod:`bot.jobs.forward`) owns the schedule and Telegram; this module owns the
rows and the bytes:

- :func:`build_parcels` turns a claimed delivery into a sealed report file for that caseworker only
  (``crypto.write_sealed_file``, docs/crypto.md "Sealed report file") with a neutral file name and
  caption, or raises an :class:`Undeliverable` whose class name is recorded as the error. Every
  file is signed with the bot key and carries the bot certificate (I9): the caseworker's
  ``sanad caseworker open`` refuses any file that does not chain to the organisation key.
- A file over :data:`MAX_DOCUMENT_BYTES` would be refused by Telegram (50 MB per upload), so it
  becomes numbered parts, each signed by the bot (``crypto.split_sealed_file``, docs/crypto.md
  "Parts of a sealed report file"), which ``sanad caseworker open`` puts back together.

A file's name and caption are :mod:`bot.services.sealed_files`; the name comes from
:mod:`crypto.file_names`, which the caseworker's side reads too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.bot_identity import BotIdentity
from bot.errors import SanadError
from bot.services.sealed_files import (
    delivery_caption,
    delivery_file_name,
    part_caption,
    part_file_name,
)
from crypto import EnvelopeKind, Wrap, split_sealed_file, write_sealed_file
from crypto.keys import X25519PublicKey
from storage.engine import Database
from storage.models import (
    DeliveryKind,
    Mailbox,
    Report,
    ReportBody,
)
from storage.models import Wrap as StoredWrap
from storage.outbox import Delivery

#: Telegram refuses a bot's upload over 50 MB (Bot API, "Sending files": "up to 50 MB"). A
#: sealed report file larger than this is sent as parts whose chunks hold at most this many bytes:
#: 45 MiB (47,185,920 bytes) leaves room under 50,000,000 for a part's header, the bot
#: certificate and the upload's multipart encoding, whichever megabyte Telegram means.
MAX_DOCUMENT_BYTES = 45 * 1024 * 1024

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
class Document:
    """One upload: a whole sealed report file or one part of it, with its neutral name and
    caption."""

    file_name: str
    caption: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Parcel:
    """What one delivery sends to whom: one sealed report file, or its parts in order.

    The delivery is made once every document is acknowledged; until then it is owed whole, so a
    retry sends every part again (the same bytes under the same names: I8's repeat).
    """

    delivery: Delivery
    chat_id: int
    documents: tuple[Document, ...]


def documents_for(
    content: bytes,
    *,
    case_reference: str,
    report_id: bytes,
    sequence: int,
    bot: BotIdentity,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> tuple[Document, ...]:
    """The sealed report file ``content`` as one document, or as signed parts when it is
    larger than ``max_bytes`` (a seam: tests lower it to keep files small)."""
    if len(content) <= max_bytes:
        return (
            Document(
                delivery_file_name(case_reference, sequence),
                delivery_caption(case_reference, sequence),
                content,
            ),
        )
    parts = split_sealed_file(
        content,
        case_reference=case_reference,
        report_id=report_id,
        sequence=sequence,
        part_size=max_bytes,
        bot_key=bot.key,
        bot_certificate=bot.certificate,
    )
    return tuple(
        Document(
            part_file_name(case_reference, sequence, index, len(parts)),
            part_caption(case_reference, sequence, index, len(parts)),
            part,
        )
        for index, part in enumerate(parts)
    )


async def build_parcels(
    db: Database,
    deliveries: Sequence[Delivery],
    recipients: Mapping[int, Recipient],
    *,
    bot: BotIdentity,
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
) -> list[Parcel | tuple[Delivery, Undeliverable]]:
    """The sealed report file for each delivery, in order, or why it cannot be made.

    Each file is signed by ``bot`` (the runtime's certified bot key) and carries its
    certificate; one larger than ``max_document_bytes`` comes as parts (:func:`documents_for`).
    Reads in one short transaction; nothing is written. A delivery whose caseworker is not in
    ``recipients`` is :class:`CaseworkerNotEligible`; one whose report, body or wrap
    for that caseworker's key is gone is :class:`SealedPartsMissing`; a notice is
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
                bot_key=bot.key,
                bot_certificate=bot.certificate,
            )
            documents = documents_for(
                content,
                case_reference=case_reference,
                report_id=delivery.report_id,
                sequence=delivery.sequence,
                bot=bot,
                max_bytes=max_document_bytes,
            )
            results.append(Parcel(delivery, recipient.chat_id, documents))
    return results
