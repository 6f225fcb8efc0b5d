"""Crypto benchmarks; prints one JSON object (DESIGN.md §8: machine-readable, not a timed test).

    python -m bench.crypto [--seconds S]

(run from the repository root, as a module: run as a file, its name would hide the ``crypto``
package it measures). This is the one place outside ``crypto/`` that imports ``nacl``: the raw
baseline of ``ratio_to_raw`` must not go through Sanad's wrappers.

Measures:

- ``envelope``: reports sealed and opened per second for 4 KiB and 1 MiB bodies with two
  recipients (a caseworker and the recovery key), through ``seal_report`` / ``open_report``;
- ``signed_file``: for a 4 KiB report, sealed and signed as the bot delivers it (``seal_report``
  then ``write_sealed_file``), checked as a caseworker's machine does before decrypting
  (``read_sealed_file``: bot certificate, then signature) and opened (``open_sealed_file``); and
  ``ratio_to_raw``, the signed seal's rate over the same work done with PyNaCl directly in the
  same run (XChaCha20-Poly1305 over the padded 4 KiB, two ``crypto_box_seal`` wraps, one Ed25519
  signature), target ≥ 0.67;
- ``signed_reply``: a ``/reply`` sealed and signed by the bot (``seal_reply`` and a
  ``ReplyStatement`` signature), the check ``/status`` makes before showing it (rebuild the
  statement, verify), and a caseworker's reply file written and verified;
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

import nacl.bindings
import nacl.signing
import nacl.utils

from crypto.body import Answer, ReportBody
from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.certificates import today_utc
from crypto.envelope import open_report, seal_report
from crypto.header import EnvelopeKind, new_report_id
from crypto.kdf_pool import KdfPool
from crypto.keys import Ed25519SigningKey, X25519SecretKey
from crypto.mailbox_messages import (
    ReplySigner,
    ReplyStatement,
    read_reply_file,
    seal_reply,
    write_reply_file,
)
from crypto.padding import padded_size
from crypto.receipts import derive_mailbox, generate_receipt
from crypto.sealed_file import open_sealed_file, read_sealed_file, write_sealed_file

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


def _bot() -> tuple[Ed25519SigningKey, Ed25519SigningKey, bytes]:
    """An organisation key, a bot key, and the bot certificate the first signed for the second."""
    org, bot = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    today = today_utc()
    period = BotCertificate(bot.public_key, 1, today, today.replace(year=today.year + 1))
    return org, bot, issue_bot_certificate(period, org)


def _raw_signed_seal(body: bytes, recipients: list[bytes], signing_key: Any) -> bytes:
    """The signed seal's cryptography with PyNaCl directly: the baseline of ``ratio_to_raw``."""
    dek, nonce = nacl.utils.random(32), nacl.utils.random(24)
    block = len(body).to_bytes(4, "big") + body
    block += bytes(padded_size(len(body)) - len(block))
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(block, b"", nonce, dek)
    wraps = b"".join(nacl.bindings.crypto_box_seal(dek, key) for key in recipients)
    return bytes(signing_key.sign(nonce + wraps + sealed).signature)


def signed_file(seconds: float) -> dict[str, Any]:
    org, bot, certificate = _bot()
    caseworker, recovery = X25519SecretKey.generate(), X25519SecretKey.generate()
    # A real report body (the caseworker's open decodes it), about 4 KiB: one 4 KiB padded block.
    body = ReportBody([Answer("what", "x" * 4000)]).to_bytes()
    report_id = new_report_id()

    def seal_and_sign() -> bytes:
        sealed = seal_report(
            body,
            report_id=report_id,
            sequence=0,
            kind=EnvelopeKind.REPORT,
            recipients=[caseworker.public_key, recovery.public_key],
        )
        return write_sealed_file(
            kind=EnvelopeKind.REPORT,
            case_reference="K7Q-4M2P",
            report_id=report_id,
            sequence=0,
            reply_to=None,
            wrap=sealed.wraps[0],
            body_sealed=sealed.body_sealed,
            bot_key=bot,
            bot_certificate=certificate,
        )

    data = seal_and_sign()
    if open_sealed_file(data, caseworker, org.public_key).report_id != report_id:
        raise SystemExit("signed file round trip failed")
    raw_key = nacl.signing.SigningKey(bytes(32))
    raw_recipients = [caseworker.public_key.raw, recovery.public_key.raw]
    seals = _rate(seal_and_sign, seconds)
    raw = _rate(partial(_raw_signed_seal, body, raw_recipients, raw_key), seconds)
    return {
        "4KiB": {
            "seals_signed": seals,
            "raw_libsodium": raw,
            # Per CPU second: the steadier figure when other work shares the cores.
            "ratio_to_raw": round(seals["per_cpu_second"] / raw["per_cpu_second"], 2),
            "ratio_to_raw_wall_clock": round(seals["per_second"] / raw["per_second"], 2),
            "checks": _rate(partial(read_sealed_file, data, org.public_key), seconds),
            "opens": _rate(partial(open_sealed_file, data, caseworker, org.public_key), seconds),
            "file_bytes": len(data),
        }
    }


def signed_reply(seconds: float) -> dict[str, Any]:
    _org, bot, _certificate = _bot()
    caseworker = Ed25519SigningKey.generate()
    mailbox = X25519SecretKey.generate().public_key
    report_id = new_report_id()
    text = "We received your report and will write again within a week. " * 4

    def statement(sealed: bytes, signer: ReplySigner) -> ReplyStatement:
        return ReplyStatement(signer, "K7Q-4M2P", report_id, mailbox.key_id, 1, sealed)

    def bot_reply() -> tuple[bytes, bytes]:
        sealed = seal_reply(text, report_id=report_id, sequence=1, mailbox_public=mailbox)
        return sealed, statement(sealed, ReplySigner.BOT).sign(bot)

    sealed, signature = bot_reply()
    reply_file = write_reply_file(statement(sealed, ReplySigner.CASEWORKER), caseworker)
    return {
        "bot_reply_seals_signed": _rate(bot_reply, seconds),
        "status_checks": _rate(
            lambda: statement(sealed, ReplySigner.BOT).verify(bot.public_key, signature), seconds
        ),
        "reply_file_writes": _rate(
            lambda: write_reply_file(statement(sealed, ReplySigner.CASEWORKER), caseworker),
            seconds,
        ),
        "reply_file_checks": _rate(
            lambda: read_reply_file(reply_file).verify(caseworker.public_key), seconds
        ),
    }


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
        "signed_file": signed_file(args.seconds),
        "signed_reply": signed_reply(args.seconds),
        "receipts": receipts(args.seconds),
        "receipt_memory": receipt_memory(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
