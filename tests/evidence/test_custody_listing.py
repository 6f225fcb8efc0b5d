"""``sanad caseworker custody``: the custody log of a key, read as far as it verifies.

Run as processes, with real key files and real libsodium: a sound log lists every record oldest
first with its count; a damaged one lists the records before the break, names the record and
byte where the chain breaks and why, exits 1 — and the file is left byte for byte, and its
modification time, as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from crypto.keyfile import MINIMUM, save_org_recovery_key
from desk.evidence.custody import (
    BROKEN_LINK,
    LOG_NAME,
    NOT_THIS_KEY,
    OPENED_WITH_RECOVERY_KEY,
    RECOVERY_LOG_NAME,
    TORN,
    CustodyLog,
)
from tests.cli.test_key_commands import sanad
from tests.desk.conftest import PASSPHRASE, Caseworker, caseworker  # noqa: F401 (fixture)
from tests.evidence.custody_damage import AT, damage, records, write_history

pytestmark = pytest.mark.slow

CASE = "K7Q-4M2P"
OTHER = "A1B-2C3D"
ANSWERS = [("incident.type", "blackmail")]


def custody(key_file: Path, *args: str) -> tuple[int, str, str]:
    result = sanad("caseworker", "custody", "--key", key_file, *args, passphrase=PASSPHRASE)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


def _run(caseworker: Caseworker, *args: str | Path) -> None:  # noqa: F811 (the fixture)
    result = sanad("caseworker", *args, "--key", caseworker.key_file, passphrase=PASSPHRASE)
    assert result.returncode == 0, result.stderr


def test_opens_and_a_package_are_listed_in_order_with_their_count(
    caseworker: Caseworker,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    mine = caseworker.save(tmp_path / "inbox", CASE, caseworker.sealed(CASE, ANSWERS))
    other = caseworker.save(tmp_path / "inbox", OTHER, caseworker.sealed(OTHER, ANSWERS))
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    _run(caseworker, "open", mine)
    _run(caseworker, "open", other)
    _run(caseworker, "package", CASE, "--from", mine, "--out", tmp_path / "package.zip")
    code, out, err = custody(caseworker.key_file)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    log = caseworker.key_file.parent / LOG_NAME
    assert lines[-1] == f"4 records in {log}"
    listed = [line.split() for line in lines[:-1]]
    assert [(words[3], " ".join(words[4:])) for words in listed] == [
        (CASE, "opened"),
        (OTHER, "opened"),
        (CASE, "opened"),
        (CASE, "packaged"),
    ]
    times = [dt.datetime.fromisoformat(f"{w[0]}T{w[1]}+00:00") for w in listed]
    assert all(words[2] == "UTC" for words in listed)
    assert times == sorted(times)
    assert started <= times[0]
    assert times[-1] <= dt.datetime.now(dt.UTC)
    assert all(len(line) <= 80 for line in lines[:-1])


def test_case_filters_the_records_and_json_says_the_same(
    caseworker: Caseworker,  # noqa: F811 (the fixture)
) -> None:
    log = caseworker.key_file.parent / LOG_NAME
    write_history(log, caseworker.keys, CASE)
    code, out, _ = custody(caseworker.key_file, "--case", CASE.lower())
    assert code == 0
    assert out.splitlines() == [
        f"2026-12-06 18:30:00 UTC  {CASE}    opened",
        f"2026-12-06 18:32:00 UTC  {CASE}    packaged",
        f"2 records of {CASE} in {log}",
    ]
    code, out, _ = custody(caseworker.key_file, "--case", CASE, "--json")
    assert code == 0
    assert json.loads(out) == {
        "path": str(log),
        "exists": True,
        "verified": True,
        "count": 2,
        "records": [
            {"at": "2026-12-06T18:30:00+00:00", "case": CASE, "event": "opened"},
            {"at": "2026-12-06T18:32:00+00:00", "case": CASE, "event": "packaged"},
        ],
        "break": None,
    }


def test_the_recovery_key_reads_its_own_log_beside_it(
    caseworker: Caseworker,  # noqa: F811 (the fixture)
) -> None:
    # Kept in the caseworker's key folder: each key reads its own log, never the other's.
    folder = caseworker.key_file.parent
    recovery_key = folder / "org-recovery.key"
    recovery = caseworker.organisation.recovery
    save_org_recovery_key(recovery_key, recovery, "organisation", PASSPHRASE, kdf=MINIMUM)
    write_history(folder / LOG_NAME, caseworker.keys, CASE)
    theirs = CustodyLog.beside_recovery_key(recovery_key, recovery)
    theirs.record(OTHER, OPENED_WITH_RECOVERY_KEY, AT + dt.timedelta(hours=1))
    code, out, err = custody(recovery_key)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"2026-12-06 19:30:00 UTC  {OTHER}    opened with the recovery key",
        f"1 record in {folder / RECOVERY_LOG_NAME}",
    ]


def test_a_missing_log_says_nothing_was_recorded_and_succeeds(
    caseworker: Caseworker,  # noqa: F811 (the fixture)
) -> None:
    log = caseworker.key_file.parent / LOG_NAME
    code, out, err = custody(caseworker.key_file)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"No custody log exists at {log}: nothing was opened or packaged with this key on "
        "this computer."
    ]
    code, out, _ = custody(caseworker.key_file, "--json")
    assert code == 0
    document = json.loads(out)
    assert (document["exists"], document["count"], document["records"]) == (False, 0, [])
    assert not log.exists()


@dataclass(frozen=True)
class Break:
    """A damage, and what the listing must say of it: how many records verify before the
    break, the number of the record where it breaks (its offset is the sizes of those before
    it in the sound log), and why."""

    how: str
    verified: int
    record: int
    reason: str


BREAKS = [
    Break("cut short", verified=2, record=3, reason=TORN),
    Break("record signed by another key", verified=3, record=4, reason=NOT_THIS_KEY),
    Break("byte edited", verified=1, record=2, reason=NOT_THIS_KEY),
    Break("record taken out", verified=1, record=2, reason=BROKEN_LINK),
]


@pytest.mark.parametrize("expected", BREAKS, ids=[b.how for b in BREAKS])
@pytest.mark.parametrize("as_json", [False, True], ids=["lines", "json"])
def test_a_damaged_log_lists_the_intact_records_and_where_the_chain_breaks(
    caseworker: Caseworker,  # noqa: F811 (the fixture)
    expected: Break,
    as_json: bool,
) -> None:
    log = caseworker.key_file.parent / LOG_NAME
    write_history(log, caseworker.keys, CASE)
    offset = sum(len(r) for r in records(log)[: expected.record - 1])
    data = damage(log, caseworker.keys, expected.how)
    os.utime(log, ns=(1_000_000_000, 1_000_000_000))
    code, out, err = custody(caseworker.key_file, *(["--json"] if as_json else []))
    assert code == 1
    assert err.splitlines()[0] == (
        f"sanad: the custody log {log} breaks at record {expected.record} (byte {offset}): "
        f"{expected.reason}"
    )
    assert len(err.splitlines()) == 2
    sound = [(CASE, "opened"), (OTHER, "opened"), (CASE, "packaged")]
    if as_json:
        document = json.loads(out)
        assert document["verified"] is False
        assert document["count"] == expected.verified
        listed = [(r["case"], r["event"]) for r in document["records"]]
        assert document["break"] == {
            "record": expected.record,
            "offset": offset,
            "reason": expected.reason,
        }
    else:
        lines = out.splitlines()
        noun = "record" if expected.verified == 1 else "records"
        assert lines[-1] == f"{expected.verified} {noun} verified before the break in {log}"
        listed = [(w[3], w[4]) for w in (line.split() for line in lines[:-1])]
    assert listed == sound[: expected.verified]
    assert log.read_bytes() == data
    assert log.stat().st_mtime_ns == 1_000_000_000
