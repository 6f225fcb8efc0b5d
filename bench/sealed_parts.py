"""What a report over Telegram's upload limit costs in parts; prints one JSON object.

    python -m bench.sealed_parts [--mib 200]

A sealed report file of ``--mib`` MiB (random bytes as the sealed body: the cost does not depend
on what is sealed) is cut into signed parts at the bot's size (``MAX_DOCUMENT_BYTES``, 45 MiB), as
the forward job does (``split_sealed_file``: one SHA-256 of the file, one Ed25519 signature per
part), then joined and verified as ``sanad caseworker open`` does (``join_sealed_parts``: every
part's signature and certificate, the whole-file hash, then the whole file's own signature). The
run also checks the same file given whole (``read_sealed_file``), for contrast. The
default, 200 MiB, is about the largest report the default limits allow (10 files of 20 MB).
Times are wall clock; memory is, for each step on its own, the process's peak resident set
(``VmHWM``, reset before the step through ``/proc/self/clear_refs``) above its resident set when
the step starts (``VmRSS``), from ``/proc/self/status``: what the step adds to the file it is
given.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date, timedelta

from bot.services.delivery import MAX_DOCUMENT_BYTES
from crypto.bot_certificate import BotCertificate, issue_bot_certificate
from crypto.certificates import today_utc
from crypto.header import EnvelopeKind, new_report_id
from crypto.keys import Ed25519SigningKey, X25519SecretKey
from crypto.sealed_file import read_sealed_file, write_sealed_file
from crypto.sealed_parts import join_sealed_parts, split_sealed_file
from crypto.wraps import Wrap

_MIB = 1024 * 1024


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _start_step() -> int:
    """Reset the peak resident set to the current one; return the current one (KiB)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")
    return _status_kib("VmRSS")


def _added_mib(start: int) -> float:
    return round((_status_kib("VmHWM") - start) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200, help="size of the sealed body, MiB")
    args = parser.parse_args()
    org, bot = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    today: date = today_utc()
    certificate = issue_bot_certificate(
        BotCertificate(bot.public_key, 1, today - timedelta(days=1), today + timedelta(days=90)),
        org,
    )
    report_id = new_report_id()
    whole = write_sealed_file(
        kind=EnvelopeKind.REPORT,
        case_reference="K7Q-4M2P",
        report_id=report_id,
        sequence=0,
        reply_to=None,
        wrap=Wrap(X25519SecretKey.generate().public_key.key_id, os.urandom(80)),
        body_sealed=os.urandom(args.mib * _MIB),
        bot_key=bot,
        bot_certificate=certificate,
    )
    split_start = _start_step()
    started = time.perf_counter()
    parts = split_sealed_file(
        whole,
        case_reference="K7Q-4M2P",
        report_id=report_id,
        sequence=0,
        part_size=MAX_DOCUMENT_BYTES,
        bot_key=bot,
        bot_certificate=certificate,
    )
    split_seconds = time.perf_counter() - started
    split_added = _added_mib(split_start)
    join_start = _start_step()
    started = time.perf_counter()
    joined = join_sealed_parts(parts, org.public_key)
    join_seconds = time.perf_counter() - started
    join_added = _added_mib(join_start)
    if joined != whole:
        raise SystemExit("the parts did not join into the file")
    del joined
    # For contrast: what checking the same file costs when it arrives whole.
    whole_start = _start_step()
    started = time.perf_counter()
    read_sealed_file(whole, org.public_key)
    whole_seconds = time.perf_counter() - started
    whole_added = _added_mib(whole_start)
    print(
        json.dumps(
            {
                "file_mib": round(len(whole) / _MIB, 2),
                "part_mib": MAX_DOCUMENT_BYTES / _MIB,
                "parts": len(parts),
                "largest_part_bytes": max(len(part) for part in parts),
                "split_seconds": round(split_seconds, 3),
                "join_and_verify_seconds": round(join_seconds, 3),
                "split_peak_added_mib": split_added,
                "join_and_verify_peak_added_mib": join_added,
                "whole_file_verify_seconds": round(whole_seconds, 3),
                "whole_file_verify_peak_added_mib": whole_added,
            }
        )
    )


if __name__ == "__main__":
    main()
