"""Lifecycle benchmarks; prints one JSON object (DESIGN.md §8: machine-readable, not a timed test).

    python -m bench.lifecycle [--section purge|rewrap] [--reports N] [--conversations N]
                              [--parts N]
                              [--postgres-url URL] [--no-postgres]

(run from the repository root, as a module). Sections:

- ``purge``: what the scheduler's purge job costs, end to end, on SQLite and PostgreSQL:
  ``keep``, conversations handed to housekeeping per second (seal with the day's key and commit
  one row each, as the report flow does when Telegram refuses a deletion); ``run``, one
  :meth:`bot.jobs.purge.Purger.run` over N expired closed reports and those housekeeping rows
  past their deadline — deletion, secure-deletion steps, key retirement and the audit entry.
- ``rewrap``: ``sanad admin rotate-recovery``'s work, :func:`bot.services.key_lifecycle.
  rotate_recovery` over N report parts sealed to a recovery key, in batches of 500: open each
  old wrap, seal the data key to the new key, insert the new wraps and delete the old ones in
  the batch's transaction. Re-wraps per second; the Argon2id that opens the admin's key file is
  a one-off before the run and is not counted (the keys here are made in memory).

Databases come from ``bench.storage`` (a temporary SQLite file, a throwaway PostgreSQL schema),
and so do the expired reports; housekeeping keys live in a temporary state directory.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.storage import (
    DEFAULT_POSTGRES_URL,
    NOW,
    fill_expired_reports,
    postgres_database,
    sqlite_database,
)
from bot.jobs.purge import Purger, RetentionSettings
from bot.services.housekeeping import Housekeeping, HousekeepingKeyring
from bot.services.key_lifecycle import rotate_recovery
from crypto import EnvelopeKind, new_report_id, seal_report
from crypto.keys import X25519SecretKey
from storage.engine import Database
from storage.models import BodyKind, Language, Report, ReportBody
from storage.models import Wrap as WrapRow

RETENTION = RetentionSettings(
    closed_report=dt.timedelta(days=90),
    mailbox=dt.timedelta(days=90),
    unassigned_alert=dt.timedelta(days=7),
)
MESSAGES_PER_CONVERSATION = 24  # a full report: about a dozen questions and as many answers


class _Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def bench_purge(db: Database, reports: int, conversations: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sanad-bench-keys-") as tmp:
        secrets_dir = Path(tmp) / "secrets"
        secrets_dir.mkdir(mode=0o700)
        clock = _Clock(NOW)
        housekeeping = Housekeeping(
            db,
            HousekeepingKeyring(secrets_dir / "housekeeping"),
            retention=dt.timedelta(hours=24),
            clock=clock,
        )
        ids = list(range(1, MESSAGES_PER_CONVERSATION + 1))
        start = time.perf_counter()
        for n in range(conversations):
            await housekeeping.keep_for_erasure(7_000_000_000_000 + n, ids)
        keep_seconds = time.perf_counter() - start

        await fill_expired_reports(db, reports)
        clock.now = NOW + dt.timedelta(days=2)  # past every housekeeping deadline and key grace
        start = time.perf_counter()
        summary = await Purger(db, housekeeping, RETENTION, clock=clock).run()
        run_seconds = time.perf_counter() - start
    return {
        "keep": {
            "conversations": conversations,
            "seconds": round(keep_seconds, 3),
            "per_second": round(conversations / keep_seconds),
        },
        "run": {
            "reports": summary.rows.reports,
            "housekeeping_rows": summary.rows.housekeeping,
            "keys_destroyed": summary.keys_destroyed,
            "compacted": summary.rows.compacted,
            "seconds": round(run_seconds, 3),
            "reports_per_second": round(summary.rows.reports / run_seconds),
        },
    }


async def bench_rewrap(db: Database, parts: int, chunk: int = 2000) -> dict[str, Any]:
    old, new = X25519SecretKey.generate(), X25519SecretKey.generate()
    for first in range(0, parts, chunk):
        sealed = [
            (
                report_id,
                seal_report(
                    b"bench",
                    report_id=report_id,
                    sequence=0,
                    kind=EnvelopeKind.REPORT,
                    recipients=[old.public_key],
                ),
            )
            for report_id in (new_report_id() for _ in range(min(chunk, parts - first)))
        ]
        async with db.sessionmaker() as session, session.begin():
            await session.execute(
                insert(Report),
                [
                    {
                        "id": rid,
                        "case_reference": f"{first + i:07d}"[:3] + "-" + f"{first + i:07d}"[3:],
                        "language": Language.EN,
                        "created_day": NOW.date(),
                        "next_sequence": 1,
                    }
                    for i, (rid, _) in enumerate(sealed)
                ],
            )
            await session.execute(
                insert(ReportBody),
                [
                    {
                        "report_id": rid,
                        "sequence": 0,
                        "kind": BodyKind.REPORT,
                        "body_sealed": s.body_sealed,
                        "created_day": NOW.date(),
                    }
                    for rid, s in sealed
                ],
            )
            await session.execute(
                insert(WrapRow),
                [
                    {"report_id": rid, "sequence": 0, "recipient_key_id": w.key_id, "wrap": w.wrap}
                    for rid, s in sealed
                    for w in s.wraps
                ],
            )
    start = time.perf_counter()
    result = await rotate_recovery(
        db, old_key=old, new_public=new.public_key, today=NOW.date(), batch_size=500
    )
    seconds = time.perf_counter() - start
    return {
        "parts": parts,
        "rewrapped": result.rewrapped,
        "batches": result.batches,
        "seconds": round(seconds, 3),
        "rewraps_per_second": round(result.rewrapped / seconds),
    }


Section = Callable[[Database, argparse.Namespace], Awaitable[dict[str, Any]]]
SECTIONS: dict[str, Section] = {
    "purge": lambda db, args: bench_purge(db, args.reports, args.conversations),
    "rewrap": lambda db, args: bench_rewrap(db, args.parts),
}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    backends: dict[str, Callable[[], AbstractAsyncContextManager[Database]]] = {
        "sqlite": sqlite_database
    }
    if not args.no_postgres:
        backends["postgresql"] = lambda: postgres_database(args.postgres_url)
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "load_average": round(os.getloadavg()[0], 2),
    }
    for name in args.section:
        results[name] = {}
        for backend, opener in backends.items():
            database: AbstractAsyncContextManager[Database] = opener()
            async with database as db:
                results[name][backend] = await SECTIONS[name](db, args)
    return results


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", action="append", choices=sorted(SECTIONS))
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--parts", type=int, default=20000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    args.section = args.section or sorted(SECTIONS)
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(_arguments())), indent=2))
