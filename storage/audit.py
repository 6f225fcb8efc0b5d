"""The audit log: admin actions and key events, append-only and hash-chained (DESIGN.md §5).

An entry says what happened, on which day, by which key, and how many of what: an event name
(``caseworker.approved``, ``case.reassigned``, ``purge.done``), the UTC day (I3), the acting key's
16-byte key id (or none for the bot's own jobs) and integer counts. Names are checked against a
narrow pattern, so no free text — and so no reporter data — can reach this table.

**The chain.** Entries are linked in id order::

    entry bytes  = "saud" || version (1) || u32 day (days since 1970-01-01) || u8 len || event
                   || u8 flag (0 | 1) [|| actor key id (16)]
                   || u16 n || n × { u8 len || count name || i64 value }   (names sorted)
    entry_hash   = BLAKE2b-256(person = "sanad audit v1", message = prev_hash || entry bytes)
    prev_hash    = the previous entry's entry_hash (stored as NULL, hashed as 32 zero bytes,
                   for the first)

:func:`verify_chain` recomputes every link, so an entry edited in place, deleted from the middle
or moved is found, and named. What a chain without a key cannot show: someone who can write the
database and recomputes every later hash, or who deletes the newest entries. Against both, the
head hash that ``sanad admin audit`` prints can be written down elsewhere and compared later.

BLAKE2b comes from :mod:`hashlib` rather than ``crypto``: storage does not import ``crypto`` at
run time, the hash protects no secret (it is tamper evidence, not encryption), and hashlib's
BLAKE2b is the same RFC 7693 function as libsodium's (a test checks one against the other).

**Appending.** :func:`append` is the only writer. Appends are serialised, because two appends
that read the same last entry would fork the chain: on PostgreSQL a transaction-scoped advisory
lock is taken first (released at commit or rollback); on SQLite every Sanad transaction already
holds the write lock from ``BEGIN IMMEDIATE`` (``storage.engine``). The caller owns the
transaction, so an audit entry commits together with the action it records, or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import KEY_ID_BYTES, AuditEntry

AUDIT_MAGIC = b"saud"
VERSION = 1
HASH_BYTES = 32
_PERSON = b"sanad audit v1"
_GENESIS = bytes(HASH_BYTES)
_EPOCH = dt.date(1970, 1, 1)
# Fixed key of the PostgreSQL advisory lock serialising appends (ASCII "sanadaud").
_APPEND_LOCK = int.from_bytes(b"sanadaud", "big") - 2**63
_EVENT = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_COUNT_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MAX_EVENT = 64
_MAX_COUNTS = 32
_I64 = struct.Struct(">q")


class AuditEntryRefused(ValueError):
    """An audit entry with free text or out-of-range values; a programming error, not input."""


def canonical_entry(
    *, day: dt.date, event: str, actor_key_id: bytes | None, counts: Mapping[str, int]
) -> bytes:
    """The one byte encoding of an entry's content that its hash covers (module docstring).

    Raises :class:`AuditEntryRefused` for anything :func:`append` would refuse.
    """
    if len(event) > _MAX_EVENT or _EVENT.fullmatch(event) is None:
        raise AuditEntryRefused("an audit event is a dotted lower-case name")
    if actor_key_id is not None and len(actor_key_id) != KEY_ID_BYTES:
        raise AuditEntryRefused(f"an actor key id is {KEY_ID_BYTES} bytes")
    if len(counts) > _MAX_COUNTS:
        raise AuditEntryRefused(f"an audit entry has at most {_MAX_COUNTS} counts")
    encoded = [AUDIT_MAGIC, bytes([VERSION]), struct.pack(">I", (day - _EPOCH).days)]
    encoded += [bytes([len(event)]), event.encode("ascii")]
    encoded.append(b"\x00" if actor_key_id is None else b"\x01" + actor_key_id)
    encoded.append(struct.pack(">H", len(counts)))
    for name in sorted(counts):
        value = counts[name]
        # bool is an int subclass; True as a count would be a mistake, not a number.
        if _COUNT_NAME.fullmatch(name) is None or type(value) is not int:
            raise AuditEntryRefused("audit counts are lower-case names with integer values")
        if not -(2**63) <= value < 2**63:
            raise AuditEntryRefused("an audit count must fit in 64 bits")
        encoded += [bytes([len(name)]), name.encode("ascii"), _I64.pack(value)]
    return b"".join(encoded)


def entry_hash(prev_hash: bytes | None, entry: bytes) -> bytes:
    """``BLAKE2b-256(person = "sanad audit v1", prev_hash || entry)``; no previous is zeros."""
    digest = hashlib.blake2b(digest_size=HASH_BYTES, person=_PERSON)
    digest.update(prev_hash if prev_hash is not None else _GENESIS)
    digest.update(entry)
    return digest.digest()


async def append(
    session: AsyncSession,
    event: str,
    actor_key_id: bytes | None,
    counts: Mapping[str, int],
    day: dt.date,
) -> AuditEntry:
    """Append an entry to the chain in the caller's transaction; flushes, never commits.

    ``event`` is a dotted lower-case name, ``actor_key_id`` the 16-byte key id of the key that
    acted (None for the bot's own jobs), ``counts`` integers by lower-case name, ``day`` the UTC
    day. Raises :class:`AuditEntryRefused` for anything else, before touching the database.
    """
    content = canonical_entry(day=day, event=event, actor_key_id=actor_key_id, counts=counts)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
    previous = await session.scalar(
        select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    )
    entry = AuditEntry(
        day=day,
        event=event,
        actor_key_id=actor_key_id,
        counts=dict(counts),
        prev_hash=previous,
        entry_hash=entry_hash(previous, content),
    )
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class ChainVerdict:
    """What :func:`verify_chain` found: how many entries, the head, and the first bad one."""

    entries: int
    head: bytes | None
    first_bad_id: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_bad_id is None


async def entries(session: AsyncSession) -> Sequence[AuditEntry]:
    """Every entry, in chain order (oldest first)."""
    return (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()


async def verify_chain(session: AsyncSession) -> ChainVerdict:
    """Recompute the chain and report the first entry that breaks it.

    An entry breaks it when its content no longer matches its own hash (edited), or when it does
    not name the previous entry's hash (an entry before it was deleted, inserted or moved).
    """
    previous: bytes | None = None
    rows = await entries(session)
    for row in rows:
        if row.prev_hash != previous:
            return ChainVerdict(
                len(rows), previous, row.id, "does not follow the entry before it"
            )
        try:
            if not isinstance(row.counts, dict):
                raise AuditEntryRefused("audit counts are a mapping")
            content = canonical_entry(
                day=row.day, event=row.event, actor_key_id=row.actor_key_id, counts=row.counts
            )
        except AuditEntryRefused:
            return ChainVerdict(len(rows), previous, row.id, "holds values no entry can hold")
        if entry_hash(previous, content) != row.entry_hash:
            return ChainVerdict(len(rows), previous, row.id, "was changed after it was written")
        previous = row.entry_hash
    return ChainVerdict(len(rows), previous)
