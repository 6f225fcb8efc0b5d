"""Group commit: concurrent reports share transactions without weakening I8.

Every ``store_report`` call returns only once its own report is committed, whoever it shared
the transaction with; a bad report fails alone; a process killed mid-stream keeps every report
whose call had returned.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, func, select, text
from sqlalchemy.exc import IntegrityError

from storage.engine import Database, GroupCommit
from storage.models import Mailbox, OutboxEntry, Report, ReportBody, Wrap
from storage.reports import StoredReport

from .helpers import add_caseworker, new_mailbox, store_opaque_report

REPO_ROOT = Path(__file__).resolve().parents[2]


def _count_commits(db: Database) -> list[int]:
    """A one-element counter of commits on the engine that writes reports."""
    commits = [0]

    def on_commit(_connection: object) -> None:
        commits[0] += 1

    event.listen(db.sqlite_writer or db.engine.sync_engine, "commit", on_commit)
    return commits


async def _is_stored(db: Database, report_id: bytes, wraps: int = 1) -> bool:
    """Whether a fresh session sees the report with its body, ``wraps`` wraps, mailbox and
    delivery."""
    async with db.sessionmaker() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(table).where(column == report_id))
            for table, column in (
                (Report, Report.id),
                (ReportBody, ReportBody.report_id),
                (Wrap, Wrap.report_id),
                (Mailbox, Mailbox.report_id),
                (OutboxEntry, OutboxEntry.report_id),
            )
        ]
    return counts == [1, 1, wraps, 1, 1]


async def test_concurrent_reports_are_committed_when_their_calls_return(db: Database) -> None:
    caseworker_id = await add_caseworker(db, "cw-group")
    commits = _count_commits(db)
    seen_at_return: list[bool] = []

    async def submit() -> StoredReport:
        stored = await store_opaque_report(db, caseworker_id=caseworker_id)
        # Looked up in a fresh session as soon as the call returns.
        seen_at_return.append(await _is_stored(db, stored.report_id))
        return stored

    stored = await asyncio.gather(*(submit() for _ in range(16)))
    assert seen_at_return == [True] * 16
    assert len({s.case_reference for s in stored}) == 16
    # The sixteen shared transactions: fewer commits than reports.
    assert 1 <= commits[0] < 16


async def test_one_failing_report_does_not_fail_the_others(db: Database) -> None:
    caseworker_id = await add_caseworker(db, "cw-bad-neighbour")
    taken = new_mailbox()
    first = await store_opaque_report(db, caseworker_id=caseworker_id, mailbox=taken)
    # Submitted together, so the bad one (a lookup tag already in use) shares their batch.
    outcomes = await asyncio.gather(
        *(
            store_opaque_report(
                db, caseworker_id=caseworker_id, mailbox=taken if i == 3 else new_mailbox()
            )
            for i in range(8)
        ),
        return_exceptions=True,
    )
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    stored = [o for o in outcomes if isinstance(o, StoredReport)]
    assert len(failed) == 1
    assert isinstance(failed[0], IntegrityError)
    assert isinstance(outcomes[3], IntegrityError)
    assert len(stored) == 7
    for report in [first, *stored]:
        assert await _is_stored(db, report.report_id)
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Report)) == 8


async def test_batches_stay_within_their_bound_and_keep_order(db: Database) -> None:
    batches: list[list[int]] = []

    def write(connection: Connection, items: Sequence[int]) -> list[int]:
        connection.execute(text("SELECT 1"))
        batches.append(list(items))
        return [item * 10 for item in items]

    committer: GroupCommit[int, int] = GroupCommit(db, write, max_batch=4)
    results = await asyncio.gather(*(committer.submit(i) for i in range(10)))
    # Each caller gets its own item's result, whichever batch carried it.
    assert results == [i * 10 for i in range(10)]
    assert all(1 <= len(batch) <= 4 for batch in batches)
    assert sorted(i for batch in batches for i in batch) == list(range(10))
    assert len(batches) < 10  # submitted together, so they were grouped


async def test_cancelled_caller_is_skipped_and_the_writer_carries_on(db: Database) -> None:
    written: list[int] = []

    def write(_connection: Connection, items: Sequence[int]) -> list[int]:
        written.extend(items)
        return list(items)

    committer: GroupCommit[int, int] = GroupCommit(db, write)
    cancelled = asyncio.ensure_future(committer.submit(1))
    kept = asyncio.ensure_future(committer.submit(2))
    await asyncio.sleep(0)  # both queued, the writer not yet run
    cancelled.cancel()
    assert await kept == 2
    assert written == [2]
    assert await committer.submit(3) == 3  # a new writer starts for later items


@pytest.mark.slow
async def test_killed_writer_keeps_every_report_whose_call_returned(sqlite_db: Database) -> None:
    assert sqlite_db.sqlite_path is not None
    caseworker_id = await add_caseworker(sqlite_db, "cw-crash")
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.storage.crash_writer",
        str(sqlite_db.sqlite_path),
        str(caseworker_id),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert child.stdout is not None
    returned: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while len(returned) < 200:
                line = await child.stdout.readline()
                assert line, "the writer exited before it was killed"
                returned.append(bytes.fromhex(line.decode().strip()))
    finally:
        child.send_signal(signal.SIGKILL)  # mid-stream: more reports are in flight
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    missing = [rid for rid in returned if not await _is_stored(sqlite_db, rid, wraps=2)]
    assert missing == []
    async with sqlite_db.sessionmaker() as session:
        assert (await session.execute(text("PRAGMA integrity_check"))).scalar_one() == "ok"
