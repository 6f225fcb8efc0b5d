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

**The seal.** A chain alone does not stop someone who can write the database: they can rewrite
it whole and recompute every hash, or delete the newest entries and leave a shorter valid chain.
So the bot seals it (DESIGN.md §4, "Signed audit log") through an :class:`AuditSeal` that
:meth:`storage.engine.Database.install_audit_seal` puts on every session of the database:

- each entry carries the bot key's signature of (position, entry_hash), position being the
  entry's 1-based place in chain order (``crypto.audit_signature``): a rewritten entry cannot be
  signed again without the bot key, and a signed entry cannot be moved;
- the chain's length and head hash are recorded outside the database (the bot's state
  directory) after each transaction that appended **commits** — never for one rolled back — and
  that record only moves forward, so deleting the newest entries is caught too.

storage never imports ``crypto`` or ``bot``: the bot supplies the seal (``bot.audit_head``).
Without a seal installed (tests of services, a command run away from the bot key), :func:`append`
writes an unsigned entry; ``sanad admin audit --verify`` names unsigned entries as a failure,
because an entry the bot did not sign may have been written by anyone.

:func:`verify_chain` recomputes every link, so an entry edited in place, deleted from the middle
or moved is found and named; with a seal it also checks every signature and the recorded head.

BLAKE2b comes from :mod:`hashlib` rather than ``crypto``: storage does not import ``crypto`` at
run time, the hash protects no secret (it is tamper evidence, not encryption), and hashlib's
BLAKE2b is the same RFC 7693 function as libsodium's (a test checks one against the other).

**Appending.** :func:`append` is the only writer. Appends are serialised, because two appends
that read the same last entry would fork the chain: on PostgreSQL a transaction-scoped advisory
lock is taken first (released at commit or rollback); on SQLite every Sanad transaction already
holds the write lock from ``BEGIN IMMEDIATE`` (``storage.engine``). The caller owns the
transaction, so an audit entry commits together with the action it records, or not at all;
the head is recorded by an ``after_commit`` listener on that session, and a rollback forgets it.
If recording fails (the state directory is not writable), the error surfaces from the commit
that did succeed: the record lags, and the next append or ``--verify`` catches it up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.errors import StorageError
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


# Keys in Session.info: the installed seal, and the head this session's transaction will record.
SEAL_INFO_KEY = "sanad.audit_seal"
_PENDING_HEAD = "sanad.audit_pending_head"


class AuditHeadUnreadable(StorageError):
    """The record of the chain's length and head exists but cannot be read, or is damaged."""


class AuditSeal(Protocol):
    """What keeps the chain honest against a database writer: a key and a record kept elsewhere.

    ``bot.audit_head.BotAuditSeal`` is the one implementation: the bot key and a file in the
    state directory, both out of a database writer's reach.
    """

    def sign(self, position: int, entry_hash: bytes) -> bytes:
        """The signature of the entry at 1-based ``position`` in chain order."""
        ...

    def verify(self, position: int, entry_hash: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this seal's signature of that position and hash."""
        ...

    def record_head(self, length: int, head: bytes) -> None:
        """Record that the committed chain has ``length`` entries ending in ``head``.

        Must never move the record backwards: a length not greater than the one recorded is
        ignored (two processes may commit in one order and record in the other).
        """
        ...

    def recorded_head(self) -> tuple[int, bytes] | None:
        """The recorded (length, head), or None when nothing was ever recorded.

        Raises :class:`AuditHeadUnreadable` when the record is there but unreadable.
        """
        ...


def seal_of(session: AsyncSession) -> AuditSeal | None:
    """The seal installed on ``session``'s database, if any (``Database.install_audit_seal``)."""
    seal: AuditSeal | None = session.info.get(SEAL_INFO_KEY)
    return seal


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

    With a seal installed the entry is signed, and the chain's new length and head are recorded
    once the caller's transaction commits; without one the entry is unsigned (module docstring).
    """
    content = canonical_entry(day=day, event=event, actor_key_id=actor_key_id, counts=counts)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
    previous = await session.scalar(
        select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    )
    # Under the append lock, so no other entry can take this place before the commit.
    position = (await session.scalar(select(func.count()).select_from(AuditEntry)) or 0) + 1
    digest = entry_hash(previous, content)
    seal = seal_of(session)
    entry = AuditEntry(
        day=day,
        event=event,
        actor_key_id=actor_key_id,
        counts=dict(counts),
        prev_hash=previous,
        entry_hash=digest,
        signature=None if seal is None else seal.sign(position, digest),
    )
    session.add(entry)
    await session.flush()
    if seal is not None and await _extends_record(session, seal, position, previous):
        _record_on_commit(session.sync_session, seal, position, digest)
    return entry


async def _extends_record(
    session: AsyncSession, seal: AuditSeal, position: int, previous: bytes | None
) -> bool:
    """True when the chain this entry extends still holds the recorded head where it was.

    Otherwise entries were removed or replaced since the record: moving it on would let new,
    honestly signed entries paper over the truncation, so it stays as the evidence. An
    unreadable record stays as it is too, and the append goes on: the action it records (a
    purge, I6) must not wait for the state directory to be repaired; ``--verify`` says why.
    """
    try:
        recorded = seal.recorded_head()
    except AuditHeadUnreadable:
        return False
    if recorded is None or recorded[0] == 0:
        return True
    length, head = recorded
    if length >= position:
        return False
    if length == position - 1:
        return previous == head
    at_length = await session.scalar(
        select(AuditEntry.entry_hash).order_by(AuditEntry.id).offset(length - 1).limit(1)
    )
    return at_length == head


def _record_on_commit(session: Session, seal: AuditSeal, length: int, head: bytes) -> None:
    """Record (length, head) with ``seal`` when this session's transaction commits.

    A head recorded for a transaction that then rolled back would name an entry that never
    existed, and every later ``--verify`` would cry truncation: so the record waits for the
    commit, and a rollback forgets it. A later append in the same transaction replaces it.
    """
    session.info[_PENDING_HEAD] = (seal, length, head)
    if not event.contains(session, "after_commit", _record_pending_head):
        event.listen(session, "after_commit", _record_pending_head)
        event.listen(session, "after_rollback", _forget_pending_head)


def _record_pending_head(session: Session) -> None:
    pending: tuple[AuditSeal, int, bytes] | None = session.info.pop(_PENDING_HEAD, None)
    if pending is not None:
        seal, length, head = pending
        seal.record_head(length, head)


def _forget_pending_head(session: Session) -> None:
    session.info.pop(_PENDING_HEAD, None)


@dataclass(frozen=True)
class ChainProblem:
    """One thing wrong with the chain: the entry it is first seen at (if any) and one line."""

    entry_id: int | None
    line: str


@dataclass(frozen=True)
class ChainVerdict:
    """What :func:`verify_chain` found: how many entries, the head, and every kind of problem."""

    entries: int
    head: bytes | None
    problems: tuple[ChainProblem, ...] = ()

    @property
    def intact(self) -> bool:
        return not self.problems


async def entries(session: AsyncSession) -> Sequence[AuditEntry]:
    """Every entry, in chain order (oldest first)."""
    return (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()


def _first_broken_link(rows: Sequence[AuditEntry]) -> tuple[int, ChainProblem | None]:
    """How many entries from the start link up, and the problem with the next one, if any.

    An entry breaks the chain when its content no longer matches its own hash (edited), or when
    it does not name the previous entry's hash (an entry before it was deleted, inserted or
    moved). Past a break nothing can be trusted, so only the first is named.
    """
    previous: bytes | None = None
    for linked, row in enumerate(rows):
        broken = f"audit chain broken at entry #{row.id}: it "
        if row.prev_hash != previous:
            return linked, ChainProblem(row.id, broken + "does not follow the entry before it")
        try:
            if not isinstance(row.counts, dict):
                raise AuditEntryRefused("audit counts are a mapping")
            content = canonical_entry(
                day=row.day, event=row.event, actor_key_id=row.actor_key_id, counts=row.counts
            )
        except AuditEntryRefused:
            return linked, ChainProblem(row.id, broken + "holds values no entry can hold")
        if entry_hash(previous, content) != row.entry_hash:
            return linked, ChainProblem(row.id, broken + "was changed after it was written")
        previous = row.entry_hash
    return len(rows), None


def _first_unsealed(seal: AuditSeal, rows: Sequence[AuditEntry]) -> ChainProblem | None:
    """The first entry not signed by ``seal`` for its place, and how many more are not."""
    bad = [
        (position, row)
        for position, row in enumerate(rows, start=1)
        if row.signature is None or not seal.verify(position, row.entry_hash, row.signature)
    ]
    if not bad:
        return None
    _, first = bad[0]
    what = "is not signed" if first.signature is None else "is not signed by the bot key here"
    more = f" (nor are {len(bad) - 1} later entries)" if len(bad) > 1 else ""
    return ChainProblem(first.id, f"audit entry #{first.id} {what}{more}")


def _head_problem(
    recorded: tuple[int, bytes] | None, rows: Sequence[AuditEntry]
) -> ChainProblem | None:
    """Compare the chain with the (length, head) recorded outside the database."""
    if recorded is None:
        return None
    length, head = recorded
    if len(rows) < length:
        return ChainProblem(
            None, f"audit log truncated: {length} entries recorded, {len(rows)} found"
        )
    if length and rows[length - 1].entry_hash != head:
        row = rows[length - 1]
        return ChainProblem(
            row.id,
            f"audit log rewritten: entry #{row.id} (position {length}) is not the recorded head",
        )
    return None


async def verify_chain(session: AsyncSession) -> ChainVerdict:
    """Check the chain and name what is wrong with it: one :class:`ChainProblem` per kind.

    Always: every link (the first broken one is named). With a seal installed on the session's
    database, also: every entry's signature up to that break (an unsigned or wrongly signed
    entry is named, with how many more there are), and the chain against the recorded length
    and head — fewer entries than recorded is truncation, another entry at the recorded length
    is a rewrite. More entries than recorded is a commit whose record was not written yet (a
    crash in between): when everything else verifies, the record is caught up here.

    Without a seal only the links are checked, which a database writer can recompute: the
    ``--verify`` command refuses to run that way.
    """
    seal = seal_of(session)
    # The record is read before the entries: a record written by a commit after this read can
    # only name entries the query below already sees, so a concurrent append is no truncation.
    recorded: tuple[int, bytes] | None = None
    unreadable: ChainProblem | None = None
    if seal is not None:
        try:
            recorded = seal.recorded_head()
        except AuditHeadUnreadable as exc:
            unreadable = ChainProblem(None, str(exc))
    rows = await entries(session)
    head = rows[-1].entry_hash if rows else None
    linked, broken_link = _first_broken_link(rows)
    found = [broken_link]
    if seal is not None:
        found += [_first_unsealed(seal, rows[:linked]), unreadable, _head_problem(recorded, rows)]
    problems = tuple(problem for problem in found if problem is not None)
    if seal is not None and not problems and rows and len(rows) > (recorded or (0, b""))[0]:
        seal.record_head(len(rows), rows[-1].entry_hash)
    return ChainVerdict(len(rows), head, problems)
