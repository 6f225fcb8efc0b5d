"""``sanad caseworker custody``: read the custody log of a key, as far as it verifies.

The log (:mod:`desk.evidence.custody`) is written by ``open`` and ``package``; this is the one
way to look at it, and the way an admin looks at a log that no longer verifies: the records
before the break are printed, then where the chain breaks and why. It only reads: the log is
never repaired, replaced or appended to here.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from desk.errors import DeskError
from desk.evidence.custody import CustodyEvent, CustodyReading
from desk.inert import inert
from desk.opening import key_file_header, unlock
from desk.passphrase import PassphraseFileOption, read_passphrase


def register(app: typer.Typer) -> None:
    """Add ``custody`` to ``sanad caseworker``."""
    app.command("custody")(caseworker_custody)


def caseworker_custody(
    key: Annotated[
        Path,
        typer.Option(
            "--key",
            help="Your caseworker key file (reads custody.log beside it), or the organisation "
            "recovery key file (reads recovery-custody.log beside it).",
            dir_okay=False,
            exists=True,
        ),
    ],
    case: Annotated[
        str | None, typer.Option("--case", help="Only the records of this case, e.g. K7Q-4M2P.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON document instead of lines.")
    ] = False,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Print the custody log of a key file, oldest first: when each case was opened or
    packaged on this computer (UTC). The whole chain is checked; if it breaks, the records
    before the break are printed, then where it breaks and why, and the command exits 1. The
    log is only read, never changed."""
    header = key_file_header(key)
    log = unlock(key, header, read_passphrase(passphrase_file, creating=False)).custody
    reading = log.verify()
    reference = case.strip().upper() if case is not None else None
    events = [e for e in reading.events if reference in (None, e.case_reference)]
    if as_json:
        typer.echo(json.dumps(_document(reading, events), indent=2, ensure_ascii=False))
    else:
        _print_lines(reading, events, reference)
    if reading.broken is not None:
        broken = reading.broken
        raise DeskError(
            f"the custody log {reading.path} breaks at record {broken.number} "
            f"(byte {broken.offset}): {broken.reason}",
            hint="the records listed verified; keep the log as it is",
        )


def _line(event: CustodyEvent) -> str:
    """One record in at most 80 columns: time (UTC, to the second), case, event."""
    at = event.at.astimezone(dt.UTC)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC  {inert(event.case_reference):<10}  {inert(event.event)}"


def _print_lines(reading: CustodyReading, events: list[CustodyEvent], case: str | None) -> None:
    if not reading.exists:
        typer.echo(
            f"No custody log exists at {reading.path}: nothing was opened or packaged with this "
            "key on this computer."
        )
        return
    for event in events:
        typer.echo(_line(event))
    count = f"{len(events)} record{'' if len(events) == 1 else 's'}"
    of_case = f" of {case}" if case is not None else ""
    verified = "" if reading.broken is None else " verified before the break"
    typer.echo(f"{count}{of_case}{verified} in {reading.path}")


def _document(reading: CustodyReading, events: list[CustodyEvent]) -> dict[str, object]:
    broken = reading.broken
    return {
        "path": str(reading.path),
        "exists": reading.exists,
        "verified": broken is None,
        "count": len(events),
        "records": [
            {"at": e.at.astimezone(dt.UTC).isoformat(), "case": e.case_reference, "event": e.event}
            for e in events
        ],
        "break": None
        if broken is None
        else {"record": broken.number, "offset": broken.offset, "reason": broken.reason},
    }
