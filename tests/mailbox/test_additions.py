"""Adding information under an unknown receipt does the durable work a stored addition does.

The answer the reporter sees is the same either way (tests/mailbox/test_status_flow.py); here the
database is watched through the engine's own events, so the test does not depend on timing: the
same number of commits (each one an fsync of the WAL on SQLite with ``synchronous=FULL``, and of
PostgreSQL's WAL), bytes of the same size inserted, and nothing of it left afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event, func, select

from handlers.draft import Draft
from storage.engine import Database
from storage.models import MailboxMessage, OutboxEntry, Report, ReportBody, Wrap
from tests.mailbox.conftest import Deployment

ADDITION = "They found my new account too, and wrote to my brother. " * 20


@dataclass
class Writes:
    commits: int = 0
    inserted_bytes: int = 0


@contextmanager
def watching(db: Database) -> Iterator[Writes]:
    """Count the commits and the bytes of binary values inserted through ``db``'s engine."""
    writes = Writes()
    engine = db.engine.sync_engine

    def on_commit(_connection: Any) -> None:
        writes.commits += 1

    def on_execute(
        _connection: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        if not statement.lstrip().upper().startswith("INSERT"):
            return
        rows = parameters if executemany else [parameters]
        for row in rows:
            values = row.values() if isinstance(row, dict) else row
            writes.inserted_bytes += sum(
                memoryview(v).nbytes for v in values if isinstance(v, bytes | memoryview)
            )

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)


async def row_counts(db: Database) -> list[int]:
    async with db.sessionmaker() as session:
        return [
            int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Report, ReportBody, Wrap, OutboxEntry, MailboxMessage)
        ]


async def test_addition_under_an_unknown_receipt_commits_a_write_of_the_same_size(
    world: Deployment,
) -> None:
    case = await world.submit()
    service = world.service()
    view = await service.look_up(case.receipt)
    assert view is not None

    with watching(world.db) as stored:
        await service.add_information(view.access, Draft(what_happened=ADDITION))
    before = await row_counts(world.db)
    with watching(world.db) as discarded:
        await service.discard_information(Draft(what_happened=ADDITION))

    assert stored.commits == discarded.commits == 1
    assert stored.inserted_bytes > len(ADDITION)
    assert discarded.inserted_bytes == pytest.approx(stored.inserted_bytes, rel=0.05)
    assert await row_counts(world.db) == before  # and nothing of it is kept
