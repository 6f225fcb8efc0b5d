"""Transactions that must run one at a time: a PostgreSQL advisory lock each, taken first.

Some transactions check that something is not there yet, then write it: an enrolment counts the
claims before adding one, a requeue looks for a sent or pending copy of a file before queuing it
again. Under PostgreSQL's READ COMMITTED two such transactions can both check before either
commits, and both write. :func:`take` makes them wait for one another: a transaction-level
advisory lock, freed at commit or rollback. On SQLite it does nothing, as nothing is needed:
every Sanad transaction there starts with ``BEGIN IMMEDIATE`` (``storage.engine``), so there is
one writer at a time.

Keys are two 32-bit integers, "Sana" and four letters naming the lock, and each is used for one
thing only. The others Sanad takes: the leader's session lock ("d-ld",
``storage.leadership.LOCK_KEYS``), the migration lock ("d-mg", ``storage.migrate``) and the audit
chain's append lock (one 64-bit key, ``storage.audit``). Advisory locks are per database, so
two deployments in two schemas of one database wait for each other here, briefly.

Lock order, against deadlocks: a transaction takes its lock from here before anything else,
and at most one of them; then the ``reports`` rows of the cases it acts on (``FOR UPDATE``,
before reading their bodies or assignment), several of them by id in one statement; and
:func:`storage.audit.append` takes the append lock after, at the end. A reporter's addition
locks its own case's row only (``bot.services.mailbox``); ``sanad admin reassign`` takes
:data:`CASE_DELIVERIES` then its case's row, ``--all-from`` one case per transaction;
``sanad admin rewrap`` takes :data:`CASE_DELIVERIES` then the rows of every case of the old keys,
and a revocation :data:`CASE_DELIVERIES` then the rows of every case of the revoked
(``bot.services.key_lifecycle``): a reassignment or rewrap checks its target eligible under the
same lock, so it commits before the revocation reads anything, or finds the target revoked (I4).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.engine import Backend


@dataclass(frozen=True)
class TransactionLock:
    """A PostgreSQL advisory lock held until the end of the transaction that takes it."""

    a: int
    b: int


#: Enrolments ("Sana", "d-en"), so that two at once cannot both pass a bound with one place left
#: (``bot.services.caseworkers``).
ENROLMENTS = TransactionLock(0x53616E61, 0x642D656E)

#: Queuing a case's files for a caseworker from the admin commands ("Sana", "d-dq"): ``sanad
#: admin redeliver`` leaves a failed row failed when the same file is sent or pending to the same
#: caseworker, and a reassignment or a key rotation committing meanwhile must not slip a pending
#: row past that check (I8: a file is queued once to a caseworker). A revocation takes it too, so
#: that no reassignment or rotation seals a case to the caseworker it revokes (I4).
CASE_DELIVERIES = TransactionLock(0x53616E61, 0x642D6471)


async def take(session: AsyncSession, lock: TransactionLock) -> None:
    """Wait for ``lock`` and hold it until the session's transaction ends; call it first thing
    in the transaction (module docstring, "Lock order"). A no-op on SQLite."""
    if session.get_bind().dialect.name == Backend.POSTGRESQL:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": lock.a, "b": lock.b}
        )
