"""The database schema, as SQLAlchemy 2 typed declarative models (DESIGN.md §5).

What this schema can and cannot hold is the point of it:

- **No plaintext report content (I1).** Every column that carries a report, an addendum, a reply
  or a wrapped key is a ``LargeBinary`` named ``*_sealed`` or ``wrap``, written by the caller
  after ``crypto`` has sealed it. There is no text column a report's words could go into.
- **No reporter identity linked to a report (I2).** No column holds a reporter's Telegram user id,
  chat id, username or message id. The only Telegram ids stored in clear are caseworkers'
  delivery chats (``caseworkers.delivery_chat_id``). The chat and message ids the bot must later
  erase from a reporter's chat live in ``housekeeping.target_sealed``, sealed by the caller with a
  rotating server key, and carry no reference to any report.
- **Coarse time (I3).** Every time tied to a report, a body or a reply is a ``Date``. The only
  finer times are scheduling columns, each on a coarse grid (``storage.coarse_time``): a pending
  delivery's earliest time and claim lapse on the forward job's interval (``storage.outbox``),
  a housekeeping deadline on the hour; a delivered or failed outbox row keeps only its day.

Identifiers of reports are 16 random bytes, so they reveal neither order nor count; people see a
short case reference instead. Integer ids of rows that belong to a report or a reporter's chat
(mailboxes, deliveries, housekeeping) are random 63-bit numbers drawn at insert
(:func:`new_row_id`), not a sequence: a counter would rank every report against the others and
date it against any row whose time is known. Caseworkers and enrolment claims keep counters
(they describe the organisation's own staff, not reporters), and so does the audit log, whose
order is its point and whose rows carry days only.

Enumerations are stored as short strings with a CHECK constraint rather than native PostgreSQL
enums, so that both backends share one migration path.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations can refer to them and both backends agree.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

REPORT_ID_BYTES = 16
KEY_ID_BYTES = 16  # crypto.keys.KEY_ID_BYTES; storage does not import crypto at run time


# A row id of 63 random bits (I3). BIGINT on PostgreSQL; on SQLite an INTEGER PRIMARY KEY, which
# is the table's rowid itself (already 64-bit), so no hidden counter sits beside the random id.
RowId = BigInteger().with_variant(Integer(), "sqlite")
_ROW_ID_LIMIT = 2**63 - 1  # BIGINT's largest value


def new_row_id() -> int:
    """A fresh random row id in [1, 2**63 - 1], from the OS's generator (I3).

    Drawn in Python at insert time, so both backends get the same rule. Two draws collide with
    probability about n**2 / 2**64 for n rows (under one in ten million at a million rows); a
    collision fails that one transaction at the primary key, never overwrites a row.
    """
    return secrets.randbelow(_ROW_ID_LIMIT) + 1


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC instant, stored as a naive UTC timestamp on every backend.

    SQLite has no time zones and PostgreSQL's ``timestamptz`` would convert to the session's zone;
    storing naive UTC and handing back aware UTC makes comparisons identical on both. Naive input
    is refused: an unqualified local time would silently shift a deadline.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class ReportStatus(enum.StrEnum):
    RECEIVED = "received"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Language(enum.StrEnum):
    """The language a report is routed in (and the reporter's catalogue)."""

    AR = "ar"
    FR = "fr"
    EN = "en"


class BodyKind(enum.StrEnum):
    REPORT = "report"
    ADDENDUM = "addendum"


class CaseworkerStatus(enum.StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REVOKED = "revoked"


class Direction(enum.StrEnum):
    TO_REPORTER = "to_reporter"
    FROM_REPORTER = "from_reporter"


class DeliveryKind(enum.StrEnum):
    REPORT = "report"
    ADDENDUM = "addendum"
    NOTICE = "notice"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def _enum(cls: type[enum.StrEnum]) -> Enum:
    # Stored by value (what the CHECK constraint lists), never by Python member name.
    return Enum(
        cls,
        name=cls.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 (SQLAlchemy's declared class attribute)
        dt.date: Date,
        dt.datetime: UTCDateTime,
        bytes: LargeBinary,
    }


class Caseworker(Base):
    """A caseworker's public keys and delivery chat; usable only once ``verified`` with a
    certificate signed by the organisation key (I4: a row alone never makes a recipient)."""

    __tablename__ = "caseworkers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(64), unique=True)
    # A caseworker's own chat, copied from the certificate at approval (NULL until then) so that
    # a chat's rows can be found; never trusted: deliveries and commands take the chat from the
    # verified certificate (I9). Never a reporter's chat (I2).
    delivery_chat_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    encryption_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The key id wraps name their recipient by (docs/crypto.md, "Key ids").
    encryption_key_id: Mapped[bytes] = mapped_column(LargeBinary(KEY_ID_BYTES), unique=True)
    signing_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    fingerprint: Mapped[str] = mapped_column(String(80))
    certificate: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[CaseworkerStatus] = mapped_column(
        _enum(CaseworkerStatus), default=CaseworkerStatus.PENDING
    )
    # Set when this key pair rotates an earlier one of the same person.
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("caseworkers.id", ondelete="SET NULL")
    )
    created_day: Mapped[dt.date]
    # The report languages this caseworker reads, as comma-separated codes ("ar,fr"); NULL means
    # any. Routing only, not a security property: an intruder who edits it can steer which
    # *eligible* caseworker gets a report, never make a recipient (I4 rests on the certificate),
    # so it is admin-set and unsigned.
    languages: Mapped[str | None] = mapped_column(String(32))


class EnrolmentClaim(Base):
    """A chat that sent ``/enroll`` with a caseworker's code, as the bot signed it (I9).

    ``claim`` is the bot-signed claim (docs/crypto.md, "Enrolment claims"): the chat id is inside
    it, under the bot's signature, so a database writer cannot move a claim to another chat.
    ``sanad admin approve --confirm CODE`` binds the certificate to the claim whose code matches.
    Several rows for one caseworker mean several chats presented the same key.
    """

    __tablename__ = "enrolment_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caseworker_id: Mapped[int] = mapped_column(
        ForeignKey("caseworkers.id", ondelete="CASCADE"), index=True
    )
    claim: Mapped[bytes]
    created_day: Mapped[dt.date]


class Report(Base):
    """A case: its public reference, routing and status. Its content lives only in sealed bodies."""

    __tablename__ = "reports"

    id: Mapped[bytes] = mapped_column(LargeBinary(REPORT_ID_BYTES), primary_key=True)
    case_reference: Mapped[str] = mapped_column(String(8), unique=True)
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus), default=ReportStatus.RECEIVED)
    language: Mapped[Language] = mapped_column(_enum(Language))
    assigned_caseworker_id: Mapped[int | None] = mapped_column(
        ForeignKey("caseworkers.id", ondelete="SET NULL"), index=True
    )
    created_day: Mapped[dt.date]  # I3: a day, never a timestamp
    closed_day: Mapped[dt.date | None] = mapped_column(index=True)
    # Sequence 0 is the report itself; addenda take 1, 2, ... (the envelope header binds it).
    next_sequence: Mapped[int] = mapped_column(Integer, default=1)


class ReportBody(Base):
    """One sealed body (the report or an addendum), each under its own data key."""

    __tablename__ = "report_bodies"

    report_id: Mapped[bytes] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[BodyKind] = mapped_column(_enum(BodyKind))
    body_sealed: Mapped[bytes]
    created_day: Mapped[dt.date]


class Wrap(Base):
    """A body's data key sealed to one recipient key; deleting all wraps of a body shreds it."""

    __tablename__ = "wraps"
    __table_args__ = (
        ForeignKeyConstraint(
            ["report_id", "sequence"],
            ["report_bodies.report_id", "report_bodies.sequence"],
            ondelete="CASCADE",
        ),
    )

    report_id: Mapped[bytes] = mapped_column(LargeBinary(REPORT_ID_BYTES), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_key_id: Mapped[bytes] = mapped_column(
        LargeBinary(KEY_ID_BYTES), primary_key=True, index=True
    )
    wrap: Mapped[bytes]


class RevocationList(Base):
    """A revocation list signed by the organisation key; the highest serial is in force."""

    __tablename__ = "revocation_lists"

    serial: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    signed: Mapped[bytes]


class Mailbox(Base):
    """The reporter's side of a case, found by a tag derived from the receipt (never stored)."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(
        RowId, primary_key=True, autoincrement=False, default=new_row_id
    )
    report_id: Mapped[bytes] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), unique=True
    )
    lookup_tag: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Which server pepper keyed the tag, so peppers can rotate (docs/crypto.md, "Receipts").
    pepper_version: Mapped[int] = mapped_column(Integer)
    last_lookup_day: Mapped[dt.date | None]
    created_day: Mapped[dt.date]


class MailboxMessage(Base):
    """A message between caseworker and reporter, sealed to the mailbox key or the caseworkers."""

    __tablename__ = "mailbox_messages"

    mailbox_id: Mapped[int] = mapped_column(
        RowId, ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    message_sealed: Mapped[bytes]
    # Replies only (I9): who signed the reply statement (1 caseworker, 2 bot; docs/crypto.md,
    # "Mailbox messages and replies"), the key id of the signing key, and the signature. /status
    # shows a reply only when the signature verifies against a currently valid certificate.
    signer: Mapped[int | None] = mapped_column(SmallInteger)
    signer_key_id: Mapped[bytes | None] = mapped_column(LargeBinary(KEY_ID_BYTES))
    signature: Mapped[bytes | None]
    created_day: Mapped[dt.date]


class OutboxEntry(Base):
    """A delivery owed to a caseworker (DESIGN.md §6 "forward"); see ``storage.outbox``."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_claimable", "status", "not_before"),)

    id: Mapped[int] = mapped_column(
        RowId, primary_key=True, autoincrement=False, default=new_row_id
    )
    kind: Mapped[DeliveryKind] = mapped_column(_enum(DeliveryKind))
    caseworker_id: Mapped[int] = mapped_column(
        ForeignKey("caseworkers.id", ondelete="CASCADE"), index=True
    )
    # The payload is referenced, never copied: purging the report removes the delivery too.
    report_id: Mapped[bytes] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[int] = mapped_column(Integer)
    # I3: while pending, on the forward job's grid (storage.outbox.DeliverySchedule); once sent
    # or failed, the start of its day.
    not_before: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[dt.datetime | None]  # I3: on the same grid; NULL once settled
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # An error class name such as "RetryAfter"; never a message text, which may quote content.
    last_error: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )


class Housekeeping(Base):
    """Chat and message ids to erase from a reporter's chat, sealed with a rotating server key.

    I2: nothing here links to a report, and rows are purged at ``deadline``.
    """

    __tablename__ = "housekeeping"

    id: Mapped[int] = mapped_column(
        RowId, primary_key=True, autoincrement=False, default=new_row_id
    )
    target_sealed: Mapped[bytes]
    key_version: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[dt.datetime] = mapped_column(index=True)  # I3: on the hour
    # Stored by the erase journal while a conversation was open: erased by another process, it
    # means that conversation's draft died with its process (bot.leadership.lost_drafts).
    conversation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Leadership(Base):
    """The one row saying which ``sanad run`` leads, and its fencing epoch (migration 0005).

    ``since`` is to the minute: when the service changed hands, linked to no report.
    """

    __tablename__ = "leadership"
    __table_args__ = (CheckConstraint("singleton = 'leader'", name="one_row"),)

    singleton: Mapped[str] = mapped_column(String(8), primary_key=True, default="leader")
    epoch: Mapped[int] = mapped_column(BigInteger)
    leader: Mapped[str | None] = mapped_column(String(40))
    since: Mapped[dt.datetime | None]


class RecentUpdate(Base):
    """The id of an update a leader took up, and nothing else: no update is handled twice
    across a takeover (migration 0005; kept to the latest few thousand)."""

    __tablename__ = "recent_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class AuditEntry(Base):
    """An admin action or key event: names, key ids and counts only, never reporter data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date]
    event: Mapped[str] = mapped_column(String(64))
    actor_key_id: Mapped[bytes | None] = mapped_column(LargeBinary(KEY_ID_BYTES))
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The bot key's signature of (position, entry_hash) (docs/crypto.md, "Audit log signatures"):
    # without the bot key, a database writer cannot rewrite the chain whole.
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(64))
