"""Crypto benchmarks; prints one JSON object (DESIGN.md §8: machine-readable, not a timed test).

    python -m bench.crypto [--seconds S]

(run from the repository root, as a module: run as a file, its name would hide the ``crypto``
package it measures).

Measures:

- ``envelope``: reports sealed and opened per second for 4 KiB and 1 MiB bodies with two
  recipients (a caseworker and the recovery key), through ``seal_report`` / ``open_report``;
- ``receipts``: receipt derivations per second (Argon2id INTERACTIVE plus the BLAKE2b steps);
- ``receipt_memory``: peak resident memory above the baseline while 16 concurrent derivations go
  through the bounded pool (``KdfPool``), each measured in a fresh process from ``VmHWM`` in
  ``/proc/self/status``; for contrast, the same 16 requests through ``asyncio.to_thread`` with no
  bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from crypto.envelope import open_report, seal_report
from crypto.header import EnvelopeKind, new_report_id
from crypto.kdf_pool import KdfPool
from crypto.keys import X25519SecretKey
from crypto.receipts import derive_mailbox, generate_receipt

CONCURRENT_REQUESTS = 16
SALT = bytes(16)
PEPPER = bytes(32)
MIB = 1 << 20


def _rate(action: Callable[[], object], seconds: float) -> dict[str, float]:
    """Operations per second of ``action``, run repeatedly for about ``seconds``.

    ``per_second`` is wall-clock; ``per_cpu_second`` divides by this process's CPU time, which
    is the steadier figure on a machine whose cores other work shares.
    """
    action()  # warm up: first-call allocations are not what a running bot pays
    count = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline = started + seconds
    while True:
        action()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            cpu = time.process_time() - cpu_started
            return {
                "per_second": round(count / (now - started), 1),
                "per_cpu_second": round(count / cpu, 1),
            }


def envelope(seconds: float) -> dict[str, Any]:
    caseworker, recovery = X25519SecretKey.generate(), X25519SecretKey.generate()
    recipients = [caseworker.public_key, recovery.public_key]
    results: dict[str, Any] = {}
    for name, size in (("4KiB", 4 * 1024), ("1MiB", MIB)):
        body = os.urandom(size)
        report_id = new_report_id()
        seal = partial(
            seal_report,
            body,
            report_id=report_id,
            sequence=0,
            kind=EnvelopeKind.REPORT,
            recipients=recipients,
        )
        sealed = seal()
        opened = partial(
            open_report,
            sealed.body_sealed,
            sealed.wraps[0],
            report_id=report_id,
            sequence=0,
            kind=EnvelopeKind.REPORT,
            secret_key=caseworker,
        )
        if opened() != body:
            raise SystemExit("envelope round trip failed")
        results[name] = {
            "seals": _rate(seal, seconds),
            "opens": _rate(opened, seconds),
            "sealed_bytes": len(sealed.body_sealed),
        }
    return results


def receipts(seconds: float) -> dict[str, Any]:
    receipt = generate_receipt()
    return {
        "derivations": _rate(lambda: derive_mailbox(receipt, salt=SALT, pepper=PEPPER), seconds)
    }


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"{field} not in /proc/self/status")


async def _concurrent_derivations(mode: str) -> None:
    requests = [generate_receipt() for _ in range(CONCURRENT_REQUESTS)]
    if mode == "pool":
        # Room for all 16 (one running, fifteen waiting), so none is refused as Busy.
        async with KdfPool(max_waiting=CONCURRENT_REQUESTS - 1) as pool:
            await asyncio.gather(
                *(pool.derive_mailbox(r, salt=SALT, pepper=PEPPER) for r in requests)
            )
    else:
        await asyncio.gather(
            *(asyncio.to_thread(derive_mailbox, r, salt=SALT, pepper=PEPPER) for r in requests)
        )


def memory_child(mode: str) -> None:
    """Run in a fresh process: print the peak RSS above the baseline, in MiB."""
    baseline = _status_kib("VmRSS")
    started = time.perf_counter()
    asyncio.run(_concurrent_derivations(mode))
    elapsed = time.perf_counter() - started
    peak = _status_kib("VmHWM")
    print(json.dumps({"peak_above_baseline_mib": round((peak - baseline) / 1024, 1),
                      "seconds": round(elapsed, 2)}))  # fmt: skip


def receipt_memory() -> dict[str, Any]:
    results: dict[str, Any] = {"concurrent_requests": CONCURRENT_REQUESTS}
    for mode in ("pool", "unbounded_threads"):
        child = subprocess.run(
            [sys.executable, "-m", "bench.crypto", "--memory-child", mode],
            capture_output=True,
            text=True,
            check=True,
        )
        results[mode] = json.loads(child.stdout)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument(
        "--memory-child", choices=["pool", "unbounded_threads"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
        "envelope": envelope(args.seconds),
        "receipts": receipts(args.seconds),
        "receipt_memory": receipt_memory(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
