"""Storage benchmarks; prints one JSON object (DESIGN.md §8: machine-readable, not a timed test).

    python -m bench.storage [--postgres-url URL] [--no-postgres] [--inserts N] [--submitters N]
                            [--purge N] [--claim-rows N]

(run from the repository root, as a module: run as a file, its name would hide the ``storage``
package it measures).

Measures, on real databases:

- ``insert``: reports stored per second through ``store_report`` (report row, sealed body, two
  wraps, mailbox and outbox row, durably committed), on SQLite and PostgreSQL, by one submitter
  at a time and by ``--submitters`` concurrent ones (each awaiting its own commit, as reporters
  do), with the p50/p95 latency per report and how many commits carried them;
- ``purge``: seconds to purge N expired closed reports from SQLite (delete, checkpoint, VACUUM;
  ``--purge 0`` skips it);
- ``claim``: outbox rows claimed per second by 4 concurrent workers on PostgreSQL.

SQLite runs in a temporary directory; PostgreSQL in a throwaway schema that is dropped after.
Sealed pieces are random bytes of realistic sizes: storage never looks inside them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event, insert
from sqlalchemy.engine import make_url

from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from storage.models import (
    BodyKind,
    Caseworker,
    CaseworkerStatus,
    DeliveryKind,
    DeliveryStatus,
    Language,
    Mailbox,
    OutboxEntry,
    Report,
    ReportBody,
    ReportStatus,
    Wrap,
)
from storage.outbox import claim_batch, new_worker_token
from storage.purge import purge
from storage.reports import NewMailbox, store_report

DEFAULT_POSTGRES_URL = os.environ.get(
    "SANAD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BODY_BYTES = 4096 + 80  # the smallest padded body (docs/crypto.md, "Padding") plus envelope
WRAP_BYTES = 48 + 32 + 40  # sealed box overhead, data key and bound header
TODAY = dt.date(2025, 3, 14)
NOW = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[Database]:
    with tempfile.TemporaryDirectory(prefix="sanad-bench-") as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'data' / 'sanad.db'}")
        try:
            await upgrade_database(db)
            yield db
        finally:
            await db.close()


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[Database]:
    admin = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    schema = f"sanad_bench_{secrets.token_hex(6)}"
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    db = open_database(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        await upgrade_database(db)
        yield db
    finally:
        await db.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def add_caseworker(db: Database) -> int:
    async with db.sessionmaker() as session, session.begin():
        caseworker = Caseworker(
            label=f"bench-{secrets.token_hex(4)}",
            delivery_chat_id=7_000_000_001,
            encryption_public_key=secrets.token_bytes(32),
            encryption_key_id=secrets.token_bytes(16),
            signing_public_key=secrets.token_bytes(32),
            fingerprint="00000 00000 00000 00000",
            status=CaseworkerStatus.VERIFIED,
            created_day=TODAY,
        )
        session.add(caseworker)
        await session.flush()
        return caseworker.id


async def bench_inserts(db: Database, count: int, submitters: int) -> dict[str, Any]:
    """``count`` reports from ``submitters`` concurrent tasks, each awaiting its own commit.

    That is what the bot does: every reporter's submission awaits ``store_report`` and shows a
    receipt only once it returns. Latency is per report, from the call to its durable commit.
    """
    caseworker_id = await add_caseworker(db)
    body = secrets.token_bytes(BODY_BYTES)
    latencies: list[float] = []
    remaining = count

    async def submitter() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            wraps = {secrets.token_bytes(16): secrets.token_bytes(WRAP_BYTES) for _ in range(2)}
            began = time.perf_counter()
            await store_report(
                db,
                report_id=secrets.token_bytes(16),
                language=Language.AR,
                body_sealed=body,
                wraps=wraps,
                mailbox=NewMailbox(secrets.token_bytes(32), secrets.token_bytes(32), 1),
                today=TODAY,
                assigned_caseworker_id=caseworker_id,
                deliver_not_before=NOW,
            )
            latencies.append(time.perf_counter() - began)

    commits = 0

    def count_commit(_connection: Any) -> None:
        nonlocal commits
        commits += 1

    # Reports are committed through the SQLite writer engine there, the async engine otherwise.
    writer = db.sqlite_writer or db.engine.sync_engine
    event.listen(writer, "commit", count_commit)
    start = time.perf_counter()
    await asyncio.gather(*(submitter() for _ in range(submitters)))
    elapsed = time.perf_counter() - start
    event.remove(writer, "commit", count_commit)
    cuts = statistics.quantiles(latencies, n=20)  # cuts[9] is p50, cuts[18] p95
    return {
        "reports": count,
        "submitters": submitters,
        "seconds": round(elapsed, 3),
        "per_second": round(count / elapsed),
        "commits": commits,
        "latency_ms_p50": round(cuts[9] * 1000, 1),
        "latency_ms_p95": round(cuts[18] * 1000, 1),
    }


async def fill_expired_reports(db: Database, count: int, chunk: int = 5000) -> None:
    """``count`` closed reports past retention, each with body, two wraps, mailbox, delivery."""
    caseworker_id = await add_caseworker(db)
    body = secrets.token_bytes(BODY_BYTES)
    closed = TODAY - dt.timedelta(days=400)
    for first in range(0, count, chunk):
        ids = [secrets.token_bytes(16) for _ in range(min(chunk, count - first))]
        async with db.sessionmaker() as session, session.begin():
            await session.execute(
                insert(Report),
                [
                    {
                        "id": rid,
                        "case_reference": f"{first + i:07d}"[:3] + "-" + f"{first + i:07d}"[3:],
                        "status": ReportStatus.CLOSED,
                        "language": Language.EN,
                        "created_day": closed,
                        "closed_day": closed,
                        "next_sequence": 1,
                    }
                    for i, rid in enumerate(ids)
                ],
            )
            await session.execute(
                insert(ReportBody),
                [
                    {
                        "report_id": rid,
                        "sequence": 0,
                        "kind": BodyKind.REPORT,
                        "body_sealed": body,
                        "created_day": closed,
                    }
                    for rid in ids
                ],
            )
            await session.execute(
                insert(Wrap),
                [
                    {
                        "report_id": rid,
                        "sequence": 0,
                        "recipient_key_id": secrets.token_bytes(16),
                        "wrap": secrets.token_bytes(WRAP_BYTES),
                    }
                    for rid in ids
                    for _ in range(2)
                ],
            )
            await session.execute(
                insert(Mailbox),
                [
                    {
                        "report_id": rid,
                        "lookup_tag": secrets.token_bytes(32),
                        "public_key": secrets.token_bytes(32),
                        "pepper_version": 1,
                        "created_day": closed,
                    }
                    for rid in ids
                ],
            )
            await session.execute(
                insert(OutboxEntry),
                [
                    {
                        "kind": DeliveryKind.REPORT,
                        "caseworker_id": caseworker_id,
                        "report_id": rid,
                        "sequence": 0,
                        "not_before": NOW - dt.timedelta(days=400),
                        "attempts": 0,
                        "status": DeliveryStatus.SENT,
                    }
                    for rid in ids
                ],
            )


async def bench_purge(db: Database, count: int) -> dict[str, Any]:
    await fill_expired_reports(db, count)
    assert db.sqlite_path is not None
    size_before = db.sqlite_path.stat().st_size
    start = time.perf_counter()
    counts = await purge(
        db,
        now=NOW,
        closed_report_retention=dt.timedelta(days=30),
        mailbox_retention=dt.timedelta(days=90),
        delivery_retention=dt.timedelta(days=7),
    )
    elapsed = time.perf_counter() - start
    return {
        "reports": counts.reports,
        "wraps": counts.wraps,
        "seconds": round(elapsed, 3),
        "file_bytes_before": size_before,
        "file_bytes_after": db.sqlite_path.stat().st_size,
        "compacted": counts.compacted,
    }


async def bench_claims(db: Database, rows: int, workers: int, batch: int) -> dict[str, Any]:
    caseworker_id = await add_caseworker(db)
    report_id = secrets.token_bytes(16)
    async with db.sessionmaker() as session, session.begin():
        session.add(
            Report(
                id=report_id,
                case_reference="BEN-CH00",
                status=ReportStatus.ASSIGNED,
                language=Language.EN,
                created_day=TODAY,
                next_sequence=1,
            )
        )
        await session.flush()
        await session.execute(
            insert(OutboxEntry),
            [
                {
                    "kind": DeliveryKind.REPORT,
                    "caseworker_id": caseworker_id,
                    "report_id": report_id,
                    "sequence": i,
                    "not_before": NOW,
                    "attempts": 0,
                    "status": DeliveryStatus.PENDING,
                }
                for i in range(rows)
            ],
        )
    claimed: list[int] = []

    async def worker() -> None:
        token = new_worker_token()
        lease = dt.timedelta(minutes=5)
        while found := await claim_batch(db, worker=token, now=NOW, limit=batch, lease=lease):
            claimed.extend(d.id for d in found)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - start
    if len(claimed) != rows or len(set(claimed)) != rows:
        raise RuntimeError("claims overlapped or missed rows")
    return {
        "rows": rows,
        "workers": workers,
        "batch": batch,
        "seconds": round(elapsed, 3),
        "per_second": round(rows / elapsed),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--inserts", type=int, default=1000)
    parser.add_argument(
        "--submitters",
        type=int,
        default=16,
        help="concurrent reporters submitting (the sequential figure is always measured too)",
    )
    parser.add_argument("--purge", type=int, default=100_000)
    parser.add_argument("--claim-rows", type=int, default=20_000)
    args = parser.parse_args()

    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
            # On a shared machine wall-clock rates move with the load; record it.
            "load_average_at_start": os.getloadavg()[0],
        },
        "body_bytes": BODY_BYTES,
    }
    for label, submitters in (("sequential", 1), ("concurrent", args.submitters)):
        async with sqlite_database() as db:
            results[f"insert_sqlite_{label}"] = await bench_inserts(db, args.inserts, submitters)
    if args.purge:
        async with sqlite_database() as db:
            results["purge_sqlite"] = await bench_purge(db, args.purge)
    if not args.no_postgres:
        for label, submitters in (("sequential", 1), ("concurrent", args.submitters)):
            async with postgres_database(args.postgres_url) as db:
                results[f"insert_postgresql_{label}"] = await bench_inserts(
                    db, args.inserts, submitters
                )
        async with postgres_database(args.postgres_url) as db:
            results["claim_postgresql"] = await bench_claims(
                db, args.claim_rows, workers=4, batch=50
            )
    results["machine"]["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
