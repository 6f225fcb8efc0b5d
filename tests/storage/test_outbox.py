"""Outbox: claims never overlap, dead workers' claims come back, retries back off, then fail;
every time it stores sits on the schedule's grid and its ids are random (I3)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

from storage.engine import Backend, Database, open_database
from storage.models import DeliveryKind, DeliveryStatus, OutboxEntry
from storage.outbox import (
    COARSE,
    DeliverySchedule,
    RetryPolicy,
    claim_batch,
    enqueue,
    give_back,
    mark_sent,
    new_worker_token,
    pending_count,
    release,
)

from .conftest import NOW
from .helpers import add_caseworker, pending_deliveries, store_opaque_report

LEASE = dt.timedelta(minutes=5)


async def _entry(db: Database, delivery_id: int) -> OutboxEntry:
    async with db.sessionmaker() as session:
        entry = await session.get(OutboxEntry, delivery_id)
    assert entry is not None
    return entry


async def test_enqueue_in_callers_transaction_and_claim_it(db: Database) -> None:
    caseworker_id = await add_caseworker(db, "cw-1")
    stored = await store_opaque_report(db)
    async with db.sessionmaker() as session, session.begin():
        delivery_id = await enqueue(
            session,
            kind=DeliveryKind.NOTICE,
            caseworker_id=caseworker_id,
            report_id=stored.report_id,
            sequence=3,
            not_before=NOW,
        )
    async with db.sessionmaker() as session:
        assert await pending_count(session) == 1
    [delivery] = await claim_batch(db, worker="w", now=NOW, limit=10, lease=LEASE)
    assert (delivery.id, delivery.kind, delivery.caseworker_id) == (
        delivery_id,
        DeliveryKind.NOTICE,
        caseworker_id,
    )
    assert (delivery.report_id, delivery.sequence, delivery.attempts) == (stored.report_id, 3, 0)


async def test_claim_skips_deliveries_not_yet_due(db: Database) -> None:
    await pending_deliveries(db, 3, not_before=NOW + dt.timedelta(seconds=1))
    assert await claim_batch(db, worker="w", now=NOW, limit=10, lease=LEASE) == []
    later = NOW + dt.timedelta(seconds=1)
    due = await claim_batch(db, worker="w", now=later, limit=10, lease=LEASE)
    assert len(due) == 3


async def test_claimed_rows_are_not_claimed_again_while_the_lease_runs(db: Database) -> None:
    ids = await pending_deliveries(db, 10)
    first = await claim_batch(db, worker="a", now=NOW, limit=4, lease=LEASE)
    second = await claim_batch(db, worker="b", now=NOW + LEASE / 2, limit=100, lease=LEASE)
    assert len(first) == 4
    assert sorted(d.id for d in first + second) == ids
    assert await claim_batch(db, worker="c", now=NOW + LEASE / 2, limit=100, lease=LEASE) == []


async def test_dead_workers_claims_are_reclaimed_after_the_lease(db: Database) -> None:
    ids = await pending_deliveries(db, 20)
    dead = await claim_batch(db, worker="dead", now=NOW, limit=20, lease=LEASE)
    assert len(dead) == 20
    # I3: the stored lapse is the lease's end rounded up onto the grid, so at least the lease.
    lapse = COARSE.coarse(NOW + LEASE)
    assert lapse >= NOW + LEASE
    assert (await _entry(db, ids[0])).claimed_until == lapse
    just_before = lapse - dt.timedelta(seconds=1)
    assert await claim_batch(db, worker="alive", now=just_before, limit=50, lease=LEASE) == []
    reclaimed = await claim_batch(db, worker="alive", now=lapse, limit=50, lease=LEASE)
    assert sorted(d.id for d in reclaimed) == ids
    # The dead worker, should it wake up, no longer holds them.
    assert not await mark_sent(db, ids[0], worker="dead", now=lapse)
    assert await mark_sent(db, ids[0], worker="alive", now=lapse)


async def test_mark_sent_keeps_only_the_day(db: Database) -> None:
    [delivery_id] = await pending_deliveries(db, 1)
    await claim_batch(db, worker="w", now=NOW, limit=1, lease=LEASE)
    sent_at = dt.datetime(2025, 3, 15, 17, 42, 13, tzinfo=dt.UTC)
    assert await mark_sent(db, delivery_id, worker="w", now=sent_at)
    entry = await _entry(db, delivery_id)
    assert entry.status is DeliveryStatus.SENT
    # I3: nothing finer than the day stays behind once delivered.
    assert entry.not_before == dt.datetime(2025, 3, 15, tzinfo=dt.UTC)
    assert (entry.claimed_by, entry.claimed_until) == (None, None)
    assert await claim_batch(db, worker="w", now=sent_at, limit=1, lease=LEASE) == []
    assert not await mark_sent(db, delivery_id, worker="w", now=sent_at)


async def test_release_backs_off_exponentially_then_fails(db: Database) -> None:
    [delivery_id] = await pending_deliveries(db, 1)
    policy = RetryPolicy(
        base=dt.timedelta(seconds=10), cap=dt.timedelta(seconds=60), max_attempts=5
    )
    # A grid that divides every wait, so the backoff itself shows through the rounding.
    schedule = DeliverySchedule(grid=dt.timedelta(seconds=10))
    now = NOW
    waits = []
    for _ in range(4):
        [claimed] = await claim_batch(db, worker="w", now=now, limit=1, lease=LEASE)
        status = await release(
            db,
            claimed.id,
            worker="w",
            now=now,
            error_class="NetworkError",
            policy=policy,
            schedule=schedule,
        )
        assert status is DeliveryStatus.PENDING
        entry = await _entry(db, delivery_id)
        waits.append((entry.not_before - now).total_seconds())
        assert entry.last_error == "NetworkError"
        assert entry.claimed_by is None
        now = entry.not_before
    assert waits == [10, 20, 40, 60]  # doubled, then capped
    [claimed] = await claim_batch(db, worker="w", now=now, limit=1, lease=LEASE)
    assert claimed.attempts == 4
    status = await release(
        db, claimed.id, worker="w", now=now, error_class="Forbidden", policy=policy
    )
    assert status is DeliveryStatus.FAILED
    failed = await _entry(db, delivery_id)
    # I3: a failed row, like a delivered one, keeps only its day.
    assert failed.not_before.time() == dt.time()
    assert failed.not_before.date() == now.astimezone(dt.UTC).date()
    next_day = now + dt.timedelta(days=1)
    assert await claim_batch(db, worker="w", now=next_day, limit=1, lease=LEASE) == []


async def test_release_by_a_worker_without_the_claim_changes_nothing(db: Database) -> None:
    [delivery_id] = await pending_deliveries(db, 1)
    await claim_batch(db, worker="owner", now=NOW, limit=1, lease=LEASE)
    status = await release(
        db, delivery_id, worker="other", now=NOW, error_class="NetworkError", policy=RetryPolicy()
    )
    assert status is None
    entry = await _entry(db, delivery_id)
    assert (entry.attempts, entry.claimed_by) == (0, "owner")


@pytest.mark.parametrize(
    "error_class", ["", "has spaces in it", "Error: the reporter wrote x", "x" * 65, "a\nb"]
)
async def test_release_refuses_anything_but_an_error_class_name(
    db: Database, error_class: str
) -> None:
    [delivery_id] = await pending_deliveries(db, 1)
    await claim_batch(db, worker="w", now=NOW, limit=1, lease=LEASE)
    with pytest.raises(ValueError, match="class name"):
        await release(
            db, delivery_id, worker="w", now=NOW, error_class=error_class, policy=RetryPolicy()
        )


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="retry policy"):
        RetryPolicy(base=dt.timedelta(seconds=10), cap=dt.timedelta(seconds=5))


async def test_concurrent_workers_claim_every_row_exactly_once(db: Database) -> None:
    """Four workers with their own connections (own engines on SQLite, as separate processes
    would be) drain 2,000 rows together: no row twice, none left behind."""
    ids = await pending_deliveries(db, 2000)
    if db.backend is Backend.SQLITE:
        assert db.sqlite_path is not None
        engines = [open_database(f"sqlite:///{db.sqlite_path}") for _ in range(4)]
    else:
        engines = [db] * 4  # one pool, four concurrent connections
    per_worker: dict[str, list[int]] = {}
    # Each worker waits after its first claim until all four have made one, so the test always
    # exercises four claimers at once. Without it, a loaded machine could let one worker drain
    # every row before another's first claim got the SQLite lock, and nothing would be shared.
    everyone_claimed_once = asyncio.Barrier(len(engines))

    async def worker(worker_db: Database) -> None:
        token = new_worker_token()
        claimed = per_worker.setdefault(token, [])
        first = True
        while batch := await claim_batch(worker_db, worker=token, now=NOW, limit=25, lease=LEASE):
            claimed.extend(d.id for d in batch)
            if first:
                first = False
                await everyone_claimed_once.wait()
            # Let the others in between claims: SQLite's busy handler backs off in sleeps of up
            # to 100 ms, and a worker waking into a lock that is never free would starve.
            await asyncio.sleep(0.005)

    try:
        await asyncio.gather(*(worker(e) for e in engines))
    finally:
        for extra in engines:
            if extra is not db:
                await extra.close()
    counts = Counter(i for claimed in per_worker.values() for i in claimed)
    assert len(per_worker) == 4
    assert [i for i, n in counts.items() if n > 1] == []
    assert sorted(counts) == ids
    # Every worker took part: the rows were really shared out, not drained by one.
    assert all(per_worker.values())


def _on_grid(instant: dt.datetime, grid: dt.timedelta) -> bool:
    return (instant - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) % grid == dt.timedelta(0)


def test_a_first_delivery_is_jittered_then_rounded_up_and_due_within_a_bound() -> None:
    schedule = DeliverySchedule(grid=dt.timedelta(minutes=10), jitter=dt.timedelta(minutes=5))
    submitted = dt.datetime(2025, 3, 14, 12, 7, 27, 412_345, tzinfo=dt.UTC)
    drawn = {schedule.first_attempt(submitted) for _ in range(400)}
    # Never before the submission, never later than jitter plus one step, always on a mark.
    assert all(submitted < t <= submitted + schedule.jitter + schedule.grid for t in drawn)
    assert all(_on_grid(t, schedule.grid) for t in drawn)
    # The jitter really moves it: 12:07 + [0, 5 min] straddles the 12:10 mark.
    assert drawn == {
        dt.datetime(2025, 3, 14, 12, 10, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 14, 12, 20, tzinfo=dt.UTC),
    }


def test_a_schedule_refuses_an_empty_grid_or_negative_jitter() -> None:
    with pytest.raises(ValueError, match="grid"):
        DeliverySchedule(grid=dt.timedelta(0))
    with pytest.raises(ValueError, match="jitter"):
        DeliverySchedule(jitter=dt.timedelta(seconds=-1))


async def test_every_time_a_pending_delivery_stores_is_on_the_grid(db: Database) -> None:
    [delivery_id] = await pending_deliveries(db, 1)
    odd = NOW + dt.timedelta(minutes=3, seconds=7, microseconds=123)
    await claim_batch(db, worker="w", now=odd, limit=1, lease=LEASE)
    claimed = await _entry(db, delivery_id)
    assert claimed.claimed_until is not None
    assert _on_grid(claimed.claimed_until, COARSE.grid)
    await release(
        db, delivery_id, worker="w", now=odd, error_class="TimedOut", policy=RetryPolicy()
    )
    retried = await _entry(db, delivery_id)
    assert _on_grid(retried.not_before, COARSE.grid)
    assert retried.not_before >= odd
    later = retried.not_before
    await claim_batch(db, worker="w", now=later, limit=1, lease=LEASE)
    assert await give_back(
        db, [delivery_id], worker="w", not_before=later + dt.timedelta(seconds=41)
    )
    given_back = await _entry(db, delivery_id)
    assert given_back.not_before == later + COARSE.grid


async def test_outbox_ids_are_random_not_a_sequence(db: Database) -> None:
    caseworker_id = await add_caseworker(db, "cw-ids")
    ids = []
    for _ in range(12):
        stored = await store_opaque_report(db, caseworker_id=caseworker_id)
        async with db.sessionmaker() as session:
            ids.append(
                await session.scalar(
                    select(OutboxEntry.id).where(OutboxEntry.report_id == stored.report_id)
                )
            )
    # Twelve random 63-bit ids: in insertion order with probability 1/12!, dense never.
    assert ids != sorted(ids)
    assert max(ids) - min(ids) > 2**40


async def test_a_report_is_claimed_before_its_addenda_whatever_their_ids(db: Database) -> None:
    caseworker_id = await add_caseworker(db, "cw-order")
    stored = await store_opaque_report(db)
    async with db.sessionmaker() as session, session.begin():
        for sequence in (3, 1, 2):
            await enqueue(
                session,
                kind=DeliveryKind.ADDENDUM,
                caseworker_id=caseworker_id,
                report_id=stored.report_id,
                sequence=sequence,
                not_before=NOW,
            )
        await enqueue(
            session,
            kind=DeliveryKind.REPORT,
            caseworker_id=caseworker_id,
            report_id=stored.report_id,
            sequence=0,
            not_before=NOW,
        )
    claimed = await claim_batch(db, worker="w", now=NOW, limit=10, lease=LEASE)
    assert [d.sequence for d in claimed] == [0, 1, 2, 3]


async def test_an_instant_passed_as_due_now_is_stored_on_a_mark_and_stays_due(
    db: Database,
) -> None:
    """Callers that enqueue with their own clock (a reassignment, a key rotation) still store no
    finer time than the 10-minute mark, and their delivery is not held back."""
    caseworker_id = await add_caseworker(db, "cw-now")
    stored = await store_opaque_report(db)
    instant = NOW + dt.timedelta(minutes=4, seconds=59, microseconds=999_999)
    async with db.sessionmaker() as session, session.begin():
        delivery_id = await enqueue(
            session,
            kind=DeliveryKind.REPORT,
            caseworker_id=caseworker_id,
            report_id=stored.report_id,
            sequence=0,
            not_before=instant,
        )
    assert (await _entry(db, delivery_id)).not_before == NOW
    [claimed] = await claim_batch(db, worker="w", now=instant, limit=1, lease=LEASE)
    assert claimed.id == delivery_id
