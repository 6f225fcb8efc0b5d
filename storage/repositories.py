"""Repositories: look-ups and inserts over one ``AsyncSession``.

Contract shared by every repository here: it takes the caller's session, looks rows up by a named
key and returns ``Model | None``, and flushes (so generated ids and constraint errors appear at the
call) but never commits. The caller owns the transaction, so several repositories' writes commit
together or not at all (DESIGN.md I8).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import StorageError
from storage.models import (
    BodyKind,
    Caseworker,
    CaseworkerStatus,
    Direction,
    Housekeeping,
    Mailbox,
    MailboxMessage,
    Report,
    ReportBody,
    Wrap,
)

# Case references are read aloud and typed by people: no 0/O, 1/I/L, and no U (so that no
# accidental words form). 30 symbols, 7 of them: about 34 bits, e.g. "K7Q-4M2P".
CASE_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_CASE_REFERENCE_SYMBOLS = 7
_CASE_REFERENCE_SPLIT = 3
_CASE_REFERENCE_ATTEMPTS = 8
_SEPARATORS = re.compile(r"[\s\-]+")


def new_case_reference() -> str:
    """A fresh random case reference such as ``K7Q-4M2P`` (``secrets``, not ``random``)."""
    symbols = "".join(
        secrets.choice(CASE_REFERENCE_ALPHABET) for _ in range(_CASE_REFERENCE_SYMBOLS)
    )
    return f"{symbols[:_CASE_REFERENCE_SPLIT]}-{symbols[_CASE_REFERENCE_SPLIT:]}"


def normalise_case_reference(text: str) -> str | None:
    """The canonical form of a typed case reference, or None if it cannot be one.

    Accepts lower case, spaces and dashes anywhere (``k7q 4m2p``), so people need not copy the
    exact layout.
    """
    symbols = _SEPARATORS.sub("", text).upper()
    if len(symbols) != _CASE_REFERENCE_SYMBOLS or any(
        ch not in CASE_REFERENCE_ALPHABET for ch in symbols
    ):
        return None
    return f"{symbols[:_CASE_REFERENCE_SPLIT]}-{symbols[_CASE_REFERENCE_SPLIT:]}"


def draw_case_references(connection: Connection, count: int) -> list[str]:
    """``count`` distinct fresh case references that no report uses yet.

    Synchronous, on the caller's connection and transaction, for the batched report writer
    (``storage.reports``): one query per round of draws, whatever ``count`` is. Raises
    :class:`StorageError` if a few rounds leave some undrawn, which at 34 bits means the table
    is implausibly full. A reference drawn by a concurrent transaction at the same instant
    (PostgreSQL) is refused by the unique constraint when the report is inserted.
    """
    chosen: set[str] = set()
    for _ in range(_CASE_REFERENCE_ATTEMPTS):
        drawn = {new_case_reference() for _ in range(count - len(chosen))} - chosen
        taken = connection.scalars(
            select(Report.case_reference).where(Report.case_reference.in_(drawn))
        )
        chosen |= drawn.difference(taken)
        if len(chosen) == count:
            return list(chosen)
    raise StorageError("no unused case reference could be drawn")


class ReportRepository:
    """Reports, their sealed bodies and the wraps of each body."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, report_id: bytes) -> Report | None:
        return await self._session.get(Report, report_id)

    async def get_by_case_reference(self, text: str, *, lock: bool = False) -> Report | None:
        """The report with this case reference, in any accepted spelling.

        ``lock``: hold its row until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite's
        ``BEGIN IMMEDIATE`` already admits one writer), for a caller about to act on what the
        case holds (``storage.locks``, "Lock order").
        """
        reference = normalise_case_reference(text)
        if reference is None:
            return None
        query = select(Report).where(Report.case_reference == reference)
        return await self._session.scalar(query.with_for_update() if lock else query)

    async def add_body(
        self,
        *,
        report_id: bytes,
        sequence: int,
        kind: BodyKind,
        body_sealed: bytes,
        wraps: Mapping[bytes, bytes],
        today: dt.date,
    ) -> ReportBody:
        """Insert one sealed body and its wraps (recipient key id -> wrap)."""
        body = ReportBody(
            report_id=report_id,
            sequence=sequence,
            kind=kind,
            body_sealed=body_sealed,
            created_day=today,
        )
        self._session.add(body)
        self._session.add_all(
            Wrap(report_id=report_id, sequence=sequence, recipient_key_id=key_id, wrap=wrap)
            for key_id, wrap in wraps.items()
        )
        await self._session.flush()
        return body

    async def get_body(self, report_id: bytes, sequence: int) -> ReportBody | None:
        return await self._session.get(ReportBody, (report_id, sequence))

    async def get_wrap(
        self, report_id: bytes, sequence: int, recipient_key_id: bytes
    ) -> Wrap | None:
        return await self._session.get(Wrap, (report_id, sequence, recipient_key_id))

    async def wraps_of(self, report_id: bytes, sequence: int) -> Sequence[Wrap]:
        """Every wrap of one body, in key-id order."""
        result = await self._session.scalars(
            select(Wrap)
            .where(Wrap.report_id == report_id, Wrap.sequence == sequence)
            .order_by(Wrap.recipient_key_id)
        )
        return result.all()


class CaseworkerRepository:
    """Caseworkers and their public keys."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, caseworker_id: int) -> Caseworker | None:
        return await self._session.get(Caseworker, caseworker_id)

    async def get_by_label(self, label: str) -> Caseworker | None:
        return await self._session.scalar(select(Caseworker).where(Caseworker.label == label))

    async def get_by_encryption_key_id(self, key_id: bytes) -> Caseworker | None:
        return await self._session.scalar(
            select(Caseworker).where(Caseworker.encryption_key_id == key_id)
        )

    async def add(
        self,
        *,
        label: str,
        encryption_public_key: bytes,
        encryption_key_id: bytes,
        signing_public_key: bytes,
        fingerprint: str,
        today: dt.date,
        replaces_id: int | None = None,
        delivery_chat_id: int | None = None,
    ) -> Caseworker:
        """Insert a caseworker as ``pending``: no certificate, so not yet a recipient (I4).

        ``delivery_chat_id`` is left NULL by enrolment: only approval binds a chat (I9).
        """
        caseworker = Caseworker(
            label=label,
            delivery_chat_id=delivery_chat_id,
            encryption_public_key=encryption_public_key,
            encryption_key_id=encryption_key_id,
            signing_public_key=signing_public_key,
            fingerprint=fingerprint,
            certificate=None,
            status=CaseworkerStatus.PENDING,
            replaces_id=replaces_id,
            created_day=today,
        )
        self._session.add(caseworker)
        await self._session.flush()
        return caseworker


class MailboxRepository:
    """Reporters' mailboxes, found by the receipt-derived lookup tag, and their messages."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_by_lookup_tag(self, lookup_tag: bytes) -> Mailbox | None:
        return await self._session.scalar(select(Mailbox).where(Mailbox.lookup_tag == lookup_tag))

    async def get_by_report(self, report_id: bytes) -> Mailbox | None:
        return await self._session.scalar(select(Mailbox).where(Mailbox.report_id == report_id))

    async def add(
        self,
        *,
        report_id: bytes,
        lookup_tag: bytes,
        public_key: bytes,
        pepper_version: int,
        today: dt.date,
    ) -> Mailbox:
        mailbox = Mailbox(
            report_id=report_id,
            lookup_tag=lookup_tag,
            public_key=public_key,
            pepper_version=pepper_version,
            last_lookup_day=None,
            created_day=today,
        )
        self._session.add(mailbox)
        await self._session.flush()
        return mailbox

    async def add_message(
        self,
        mailbox: Mailbox,
        *,
        direction: Direction,
        message_sealed: bytes,
        today: dt.date,
        signer: int | None = None,
        signer_key_id: bytes | None = None,
        signature: bytes | None = None,
    ) -> MailboxMessage:
        """Append a sealed message under the mailbox's next sequence number.

        A reply carries who signed its statement, with which key, and the signature (I9).

        Two concurrent appends to one mailbox cannot both take a number: the primary key
        (mailbox, sequence) makes the second commit fail rather than overwrite.
        """
        last = await self._session.scalar(
            select(func.max(MailboxMessage.sequence)).where(MailboxMessage.mailbox_id == mailbox.id)
        )
        message = MailboxMessage(
            mailbox_id=mailbox.id,
            sequence=0 if last is None else last + 1,
            direction=direction,
            message_sealed=message_sealed,
            signer=signer,
            signer_key_id=signer_key_id,
            signature=signature,
            created_day=today,
        )
        self._session.add(message)
        await self._session.flush()
        return message

    async def messages(self, mailbox: Mailbox) -> Sequence[MailboxMessage]:
        """The mailbox's messages, oldest first."""
        result = await self._session.scalars(
            select(MailboxMessage)
            .where(MailboxMessage.mailbox_id == mailbox.id)
            .order_by(MailboxMessage.sequence)
        )
        return result.all()


class HousekeepingRepository:
    """Sealed erase targets (I2, I7); the sealing with the server key is the caller's."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        target_sealed: bytes,
        key_version: int,
        deadline: dt.datetime,
        conversation: bool = False,
    ) -> int:
        """Add a sealed target; returns its row id (the erase journal rewrites it in place).

        ``conversation``: the target of a conversation still open when it was stored.
        """
        row = Housekeeping(
            target_sealed=target_sealed,
            key_version=key_version,
            deadline=deadline,
            conversation=conversation,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id
