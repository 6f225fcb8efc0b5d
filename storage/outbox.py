"""The delivery outbox: what is owed to which caseworker, claimed by one worker at a time.

Life of a row (DESIGN.md §6 "forward", I8):

1. :func:`enqueue` in the same transaction as the report it delivers, so a committed report always
   has its delivery and a rolled-back one never does.
2. :func:`claim_batch` marks up to ``limit`` due rows as claimed by one worker until
   ``now + lease``, in a transaction of its own that commits before anything is sent. On
   PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several bot instances claim side by side without
   waiting on, or taking, each other's rows; on SQLite the claim is one ``UPDATE ... RETURNING``
   statement inside ``BEGIN IMMEDIATE``, which writers execute one at a time.
3. The worker sends outside any transaction, then records the outcome with :func:`mark_sent`, or
   :func:`release` (retry later with exponential backoff, or give up as ``failed``), or hands
   rows back untried with :func:`give_back` (Telegram said "not now", or the bot is stopping).
   A ``failed`` row stays so until an admin makes it pending again with fresh attempts
   (:func:`requeue_failed`, ``sanad admin redeliver``).
4. A worker that dies holding a claim loses it when ``claimed_until`` passes: an expired claim is
   claimable again by anyone (the reclaim is part of :func:`claim_batch`). That is the one way a
   file can be sent twice, which I8 accepts and the caseworker recognises by case reference and
   sequence. On PostgreSQL a worker is an instance of ``sanad run`` and claims under the name
   the leadership registry lists it by (``storage.leadership.registered``), and only while it is
   listed; so the leader releases the claims of an instance that is gone at once
   (:func:`release_absent_claims`) instead of leaving them for the lease.

Coarse times (I3). Every time stored on a pending row — its earliest delivery (``not_before``)
and the lapse of a claim (``claimed_until``) — is rounded up onto a :class:`DeliverySchedule`'s
grid, the forward job's batch interval (10 minutes by default): rows scheduled within one step
share a value, and a first delivery is also pushed by a random jitter before rounding, so the
stored time neither reveals the submission instant nor orders submissions within a step. Rounding
is always up, so nothing goes earlier than asked, a claim never lapses before its lease, and the
claim query (``not_before <= now``) is unchanged. A new row's time is also floored onto the
default 10-minute marks (:func:`stored_not_before`), so a caller that passes its own instant
(a reassignment, a key rotation) stores no finer time either. A settled row keeps only its day.
Ids are random (``storage.models.new_row_id``), so rows are claimed by due time, then by report
and sequence (a report before its addenda), never by id.

The clock always comes in as ``now`` so tests and the scheduler decide what time it is. Only
worker tokens, ids and error class names are stored: never a message text (it may quote content).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.coarse_time import round_down, round_up
from storage.engine import Database
from storage.leadership import registered
from storage.models import DeliveryKind, DeliveryStatus, OutboxEntry

# An error class name (``RetryAfter``, ``telegram.error.NetworkError``), nothing longer or freer.
_ERROR_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,63}")


@dataclass(frozen=True)
class Delivery:
    """A claimed outbox row: what to send, to whom, and how often it was tried before."""

    id: int
    kind: DeliveryKind
    caseworker_id: int
    report_id: bytes
    sequence: int
    attempts: int


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff, ``base * 2**(attempts-1)`` capped at ``cap``; ``max_attempts`` fail."""

    base: dt.timedelta = dt.timedelta(seconds=30)
    cap: dt.timedelta = dt.timedelta(hours=1)
    max_attempts: int = 12

    def __post_init__(self) -> None:
        if self.base <= dt.timedelta(0) or self.cap < self.base or self.max_attempts < 1:
            raise ValueError("retry policy needs 0 < base <= cap and max_attempts >= 1")

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after the ``attempts``-th failure (1 for the first)."""
        # Bounded exponent: 2**attempts for a large count would be a pointless huge integer.
        factor: int = 2 ** min(max(attempts - 1, 0), 32)
        return min(self.cap, self.base * factor)


# The default grid: the forward job's default batch interval ([delivery] batch_interval_seconds).
DEFAULT_GRID = dt.timedelta(minutes=10)
# Jitter must be unpredictable to whoever reads the stored times (I3): the OS's generator.
_random = secrets.SystemRandom()


@dataclass(frozen=True)
class DeliverySchedule:
    """When a delivery may go, as coarse as the forward job allows (I3).

    ``grid`` is the step every stored time is rounded up to. It is the forward job's batch
    interval: the job looks at the outbox only once per interval (plus its own jitter), so a due
    time rounded up to the next step holds a delivery back by at most one more interval, and
    with the default 600 s the stored times fall on the clock's 10-minute marks. ``jitter`` is
    the largest random delay added to a first delivery before rounding. A delivery submitted at
    ``t`` is due by ``t + jitter + grid`` and sent by the first run after that.
    """

    grid: dt.timedelta = DEFAULT_GRID
    jitter: dt.timedelta = dt.timedelta(0)

    def __post_init__(self) -> None:
        if self.grid <= dt.timedelta(0) or self.jitter < dt.timedelta(0):
            raise ValueError("a delivery schedule needs grid > 0 and jitter >= 0")

    @classmethod
    def from_seconds(cls, interval: float, jitter: float) -> DeliverySchedule:
        """The schedule of a forward job run every ``interval`` s with up to ``jitter`` s more."""
        return cls(grid=dt.timedelta(seconds=interval), jitter=dt.timedelta(seconds=jitter))

    def coarse(self, instant: dt.datetime) -> dt.datetime:
        """``instant`` rounded up onto the grid: what the outbox stores instead of it."""
        return round_up(instant, self.grid)

    def first_attempt(self, now: dt.datetime) -> dt.datetime:
        """A new delivery's ``not_before``: ``now`` plus a uniform random jitter, rounded up."""
        delay = _random.uniform(0.0, self.jitter.total_seconds())
        return self.coarse(now + dt.timedelta(seconds=delay))


COARSE = DeliverySchedule()


def stored_not_before(not_before: dt.datetime) -> dt.datetime:
    """What a new delivery stores of the ``not_before`` its caller passed: at most the default
    grid's mark at or before it (I3).

    A floor under every caller, whatever schedule it used or forgot: a time from
    :meth:`DeliverySchedule.first_attempt` on the default grid comes through unchanged, and an
    instant passed as "due now" (a reassignment, a key rotation) is stored as the last
    10-minute mark, still due now. Down, never up, so no caller's delivery is held back.
    """
    return round_down(not_before, DEFAULT_GRID)


def new_worker_token() -> str:
    """A random token naming one worker's claims; it identifies a process, never a person."""
    return secrets.token_hex(8)


async def enqueue(
    session: AsyncSession,
    *,
    kind: DeliveryKind,
    caseworker_id: int,
    report_id: bytes,
    sequence: int,
    not_before: dt.datetime,
) -> int:
    """Add a pending delivery in the caller's transaction and return its (random) id; flushes.

    ``not_before`` should come from :meth:`DeliverySchedule.first_attempt` (I3): jittered and on
    the grid, so the stored time does not reveal the submission time. Whatever it is, what is
    stored is :func:`stored_not_before` of it.
    """
    entry = OutboxEntry(
        kind=kind,
        caseworker_id=caseworker_id,
        report_id=report_id,
        sequence=sequence,
        not_before=stored_not_before(not_before),
        attempts=0,
        status=DeliveryStatus.PENDING,
    )
    session.add(entry)
    await session.flush()
    return entry.id


async def claim_batch(
    db: Database,
    *,
    worker: str,
    now: dt.datetime,
    limit: int,
    lease: dt.timedelta,
    schedule: DeliverySchedule = COARSE,
    while_registered: bool = False,
) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries for ``worker`` until ``now + lease``; commits.

    With ``while_registered`` (PostgreSQL), ``worker`` is an instance's registered name and
    nothing is claimed unless the registry lists it now, in the claiming statement itself: a
    claim is never made under a name that :func:`release_absent_claims` takes for gone.

    Due means pending, ``not_before <= now``, and not claimed or claimed by a lease that has run
    out (a dead worker's rows come back here). No row is ever returned to two workers whose
    leases overlap. The stored lapse is ``now + lease`` rounded up onto ``schedule``'s grid (I3):
    the claim lasts at least ``lease``, and a dead worker's rows come back at most one step
    later. Deliveries come back in report and sequence order, so a report's file goes before its
    addenda's. The caller sends after this returns, outside any transaction.
    """
    if limit < 1 or lease <= dt.timedelta(0):
        raise ValueError("claim needs limit >= 1 and a positive lease")
    due = (
        select(OutboxEntry.id)
        .where(
            OutboxEntry.status == DeliveryStatus.PENDING,
            OutboxEntry.not_before <= now,
            or_(OutboxEntry.claimed_until.is_(None), OutboxEntry.claimed_until <= now),
        )
        # Ids are random (I3): due time first, then a report's bodies in sequence order.
        .order_by(OutboxEntry.not_before, OutboxEntry.report_id, OutboxEntry.sequence)
        .limit(limit)
        # PostgreSQL: lock the chosen rows and skip rows another claim holds. SQLite has no row
        # locks and renders nothing here; its BEGIN IMMEDIATE already serialises the statement.
        .with_for_update(skip_locked=True)
    )
    if while_registered:
        due = due.where(registered(literal(worker, String)))
    claim = (
        update(OutboxEntry)
        .where(OutboxEntry.id.in_(due.scalar_subquery()))
        .values(claimed_until=schedule.coarse(now + lease), claimed_by=worker)
        .returning(
            OutboxEntry.id,
            OutboxEntry.kind,
            OutboxEntry.caseworker_id,
            OutboxEntry.report_id,
            OutboxEntry.sequence,
            OutboxEntry.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    async with db.sessionmaker() as session, session.begin():
        rows = (await session.execute(claim)).all()
    deliveries = [Delivery(*row) for row in rows]
    deliveries.sort(key=lambda d: (d.report_id, d.sequence))
    return deliveries


def _start_of_day(now: dt.datetime) -> dt.datetime:
    """Midnight UTC of ``now``'s day: what a finished row keeps of its time (I3)."""
    return dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), dt.UTC)


async def mark_sent(db: Database, delivery_id: int, *, worker: str, now: dt.datetime) -> bool:
    """Record a successful send; commits. False if ``worker`` no longer holds the claim.

    I3: a delivered row keeps only the day it went out, not the instant.
    """
    delivered_day = _start_of_day(now)
    statement = (
        update(OutboxEntry)
        .where(
            OutboxEntry.id == delivery_id,
            OutboxEntry.claimed_by == worker,
            OutboxEntry.status == DeliveryStatus.PENDING,
        )
        .values(
            status=DeliveryStatus.SENT,
            not_before=delivered_day,
            claimed_until=None,
            claimed_by=None,
            last_error=None,
        )
        .returning(OutboxEntry.id)
        .execution_options(synchronize_session=False)
    )
    async with db.sessionmaker() as session, session.begin():
        return (await session.scalar(statement)) is not None


async def release(
    db: Database,
    delivery_id: int,
    *,
    worker: str,
    now: dt.datetime,
    error_class: str,
    policy: RetryPolicy,
    schedule: DeliverySchedule = COARSE,
) -> DeliveryStatus | None:
    """Record a failed send and give the row up; commits.

    The attempt count goes up by one; the row is retried after ``policy.delay(attempts)``
    (rounded up onto ``schedule``'s grid, I3) or, once ``policy.max_attempts`` is reached, marked
    ``failed``. ``error_class`` must be a class name,
    refused otherwise so no message text reaches the database. Returns the new status, or None
    if ``worker`` no longer holds the claim.
    """
    if _ERROR_CLASS.fullmatch(error_class) is None:
        raise ValueError("error_class must be an exception class name")
    async with db.sessionmaker() as session, session.begin():
        attempts = await session.scalar(
            select(OutboxEntry.attempts)
            .where(
                OutboxEntry.id == delivery_id,
                OutboxEntry.claimed_by == worker,
                OutboxEntry.status == DeliveryStatus.PENDING,
            )
            # PostgreSQL: hold the row so no claimer can take it between this read and the write.
            .with_for_update()
        )
        if attempts is None:
            return None
        attempts += 1
        failed = attempts >= policy.max_attempts
        status = DeliveryStatus.FAILED if failed else DeliveryStatus.PENDING
        # I3: a row that will never be retried keeps only its day, as a delivered one does.
        not_before = _start_of_day(now) if failed else schedule.coarse(now + policy.delay(attempts))
        await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == delivery_id, OutboxEntry.claimed_by == worker)
            .values(
                attempts=attempts,
                status=status,
                not_before=not_before,
                claimed_until=None,
                claimed_by=None,
                last_error=error_class,
            )
            .execution_options(synchronize_session=False)
        )
    return status


async def give_back(
    db: Database,
    delivery_ids: Sequence[int],
    *,
    worker: str,
    not_before: dt.datetime,
    schedule: DeliverySchedule = COARSE,
) -> int:
    """Return claimed, untried rows to the outbox, due again at ``not_before`` rounded up onto
    ``schedule``'s grid (I3); commits.

    Unlike :func:`release` this counts no attempt: Telegram's ``RetryAfter`` and a stopping bot
    are not failures of the delivery, so they must never push it towards ``failed``. Only rows
    ``worker`` still holds are touched; returns how many.
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
        .values(claimed_until=None, claimed_by=None, not_before=schedule.coarse(not_before))
        .returning(OutboxEntry.id)
        .execution_options(synchronize_session=False)
    )
    async with db.sessionmaker() as session, session.begin():
        return len((await session.scalars(statement)).all())


async def release_absent_claims(session: AsyncSession, *, previous_leader: str | None) -> int:
    """Give back every pending row claimed by an instance the registry no longer lists, or by
    ``previous_leader``, due at once and with no attempt counted; returns how many. PostgreSQL;
    the caller fences the transaction (only the leader releases) and commits.

    Only the claim goes: the row keeps its due time and attempts, as when a lease runs out. The
    dead instance may have sent a file whose acknowledgement it never recorded, so a release can
    repeat that one file (I8's repeat, recognisable by case reference and sequence).
    ``previous_leader`` is named because its session may still be ending as its successor starts.
    """
    absent = ~registered(OutboxEntry.claimed_by)
    if previous_leader is not None:
        absent = or_(absent, OutboxEntry.claimed_by == previous_leader)
    return await _release_claims(session, absent)


async def release_every_claim(session: AsyncSession) -> int:
    """Give back every pending row's claim, as :func:`release_absent_claims` does a dead
    instance's; returns how many. Only for the one process a database can have (SQLite, under
    ``bot.instance_lock``), at its start: every claim then is a dead predecessor's, which would
    otherwise wait out its lease (ten minutes) before anyone sent it. The caller commits.
    """
    return await _release_claims(session, literal(True))


async def _release_claims(session: AsyncSession, which: ColumnElement[bool]) -> int:
    released = await session.scalars(
        update(OutboxEntry)
        .where(
            OutboxEntry.status == DeliveryStatus.PENDING,
            OutboxEntry.claimed_by.is_not(None),
            which,
        )
        .values(claimed_until=None, claimed_by=None)
        .returning(OutboxEntry.id)
        .execution_options(synchronize_session=False)
    )
    return len(released.all())


@dataclass(frozen=True)
class FailedDelivery:
    """A row given up as ``failed``: to whom, of what, and why (an error class name)."""

    id: int
    caseworker_id: int
    report_id: bytes
    sequence: int
    last_error: str | None


async def failed_deliveries(
    session: AsyncSession, *, error_class: str | None = None, report_id: bytes | None = None
) -> list[FailedDelivery]:
    """The failed rows, all or those of one error class or one report, in the caller's
    transaction; on PostgreSQL they stay locked until it ends (only a requeue writes them)."""
    query = select(
        OutboxEntry.id,
        OutboxEntry.caseworker_id,
        OutboxEntry.report_id,
        OutboxEntry.sequence,
        OutboxEntry.last_error,
    ).where(OutboxEntry.status == DeliveryStatus.FAILED)
    if error_class is not None:
        query = query.where(OutboxEntry.last_error == error_class)
    if report_id is not None:
        query = query.where(OutboxEntry.report_id == report_id)
    rows = await session.execute(query.with_for_update())
    return [FailedDelivery(*row) for row in rows]


async def settled_or_owed(
    session: AsyncSession, rows: Sequence[FailedDelivery]
) -> set[tuple[int, bytes, int]]:
    """Which of ``rows``' (caseworker, report, sequence) already have a row sent or pending:
    the same file to the same caseworker, delivered or on its way (a reassignment back to them
    queues it afresh)."""
    reports = {row.report_id for row in rows}
    if not reports:
        return set()
    found = await session.execute(
        select(OutboxEntry.caseworker_id, OutboxEntry.report_id, OutboxEntry.sequence).where(
            OutboxEntry.report_id.in_(reports),
            OutboxEntry.status.in_([DeliveryStatus.SENT, DeliveryStatus.PENDING]),
        )
    )
    return {(cw, report, sequence) for cw, report, sequence in found}


async def requeue_failed(
    session: AsyncSession, delivery_ids: Sequence[int], *, now: dt.datetime
) -> int:
    """Make failed rows pending again with fresh attempts, due at once; returns how many.

    In the caller's transaction. A failed row is held by no worker, so the requeued row is
    claimed by :func:`claim_batch` like a new one; only rows still failed are touched, so two
    requeues at once requeue each row once. I3: due at the last mark of the default grid
    (:func:`stored_not_before`), which says nothing of when the report came in.
    """
    if not delivery_ids:
        return 0
    requeued = await session.scalars(
        update(OutboxEntry)
        .where(OutboxEntry.id.in_(list(delivery_ids)), OutboxEntry.status == DeliveryStatus.FAILED)
        .values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            last_error=None,
            not_before=stored_not_before(now),
            claimed_until=None,
            claimed_by=None,
        )
        .returning(OutboxEntry.id)
        .execution_options(synchronize_session=False)
    )
    return len(requeued.all())


async def pending_count(session: AsyncSession) -> int:
    """How many deliveries are still owed (for ``sanad admin status``; a count, no ids)."""
    count = await session.scalar(
        select(func.count()).where(OutboxEntry.status == DeliveryStatus.PENDING)
    )
    return int(count or 0)


async def renew_claim(
    db: Database,
    delivery_id: int,
    *,
    worker: str,
    now: dt.datetime,
    lease: dt.timedelta,
    schedule: DeliverySchedule = COARSE,
) -> bool:
    """Hold ``worker``'s claim on a row until ``now + lease``, rounded up onto ``schedule``'s
    grid (I3, as :func:`claim` stores it); commits. False if the claim ran out or another worker
    holds the row.

    For a delivery sent as several uploads (a report over Telegram's upload limit, in parts):
    each upload starts with a whole lease ahead of it, as a single file does, so no other
    instance takes the row back while one of its parts is on its way.
    """
    if lease <= dt.timedelta(0):
        raise ValueError("a claim needs a positive lease")
    statement = (
        update(OutboxEntry)
        .where(
            OutboxEntry.id == delivery_id,
            OutboxEntry.claimed_by == worker,
            OutboxEntry.status == DeliveryStatus.PENDING,
            OutboxEntry.claimed_until > now,
        )
        .values(claimed_until=schedule.coarse(now + lease))
        .returning(OutboxEntry.id)
        .execution_options(synchronize_session=False)
    )
    async with db.sessionmaker() as session, session.begin():
        return (await session.scalar(statement)) is not None
