"""Receipt look-ups through the bounded Argon2id pool: look-ups per second and peak memory.

Run from the repository root::

    python -m bench.receipts [--cases 8] [--clients 32] [--lookups 96] [--queue 8]

It stores ``--cases`` reports with real receipts and mailboxes in a SQLite file, then lets
``--clients`` simulated reporters look receipts up at once through
:meth:`bot.services.mailbox.MailboxService.look_up` — the service ``/status`` calls — on one
:class:`crypto.KdfPool` admitting ``--queue`` waiting derivations, as the bot is configured
(``limits.argon2_queue_size``, default 8). A client refused with ``Busy`` ("busy, try again")
waits a moment and tries again, until ``--lookups`` look-ups have been answered in all; a quarter
of them are receipts no report has, which must cost the same (docs/crypto.md, "Receipts").

It prints one JSON object: answered look-ups per second, how often clients were told "busy", and
the process's resident memory before and at its peak (``VmHWM``): with one Argon2id instance at a
time (64 MiB, INTERACTIVE) the peak stays near the baseline plus one derivation, however many
clients wait. The process is this one alone (no bot, no server), so the peak is the pool's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from crypto import Busy, generate_receipt
from storage.engine import open_database
from storage.migrate import upgrade_database
from tests.mailbox.conftest import deployment_on

RETRY_SECONDS = 0.05


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak() -> None:
    """Reset ``VmHWM`` (Linux's "5" to clear_refs), so the peak is the look-ups', not set-up's."""
    Path("/proc/self/clear_refs").write_text("5")


async def measure(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    database = open_database(f"sqlite:///{folder / 'bench.sqlite3'}")
    await upgrade_database(database)
    deployment = await deployment_on(database, max_waiting=args.queue)
    try:
        cases = [await deployment.submit() for _ in range(args.cases)]
        service = deployment.service()
        receipts = [case.receipt for case in cases]
        unknown = [generate_receipt() for _ in range(max(1, args.cases // 3))]
        _reset_peak()
        rss_before = _status_kib("VmRSS")
        derivations_before = deployment.pool.derivations
        remaining = args.lookups
        found = busy = asked_unknown = 0

        async def client(number: int) -> None:
            nonlocal remaining, found, busy, asked_unknown
            turn = number
            while remaining > 0:
                remaining -= 1
                # Every fourth look-up is a receipt that opens nothing.
                pool = unknown if turn % 4 == 3 else receipts
                asked_unknown += pool is unknown
                receipt = pool[turn % len(pool)]
                turn += args.clients
                while True:
                    try:
                        view = await service.look_up(receipt)
                        found += view is not None
                        break
                    except Busy:
                        busy += 1
                        await asyncio.sleep(RETRY_SECONDS)

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(client(n) for n in range(args.clients)))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        # The spy counts every request, refused ones included.
        derivations = deployment.pool.derivations - derivations_before - busy
    finally:
        deployment.pool.close()
        await database.close()
    return {
        "benchmark": "receipts",
        "clients": args.clients,
        "queue_bound": args.queue,
        "lookups": args.lookups,
        "found": found,
        "unknown_asked": asked_unknown,
        "derivations": derivations,
        "busy_answers": busy,
        "seconds": round(seconds, 2),
        "lookups_per_second": round(args.lookups / seconds, 2),
        "cpu_ms_per_lookup": round(cpu / args.lookups * 1000, 1),
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_peak_mib": round(_status_kib("VmHWM") / 1024, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--lookups", type=int, default=96)
    parser.add_argument("--queue", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(asyncio.run(measure(args, Path(folder)))))


if __name__ == "__main__":
    main()
