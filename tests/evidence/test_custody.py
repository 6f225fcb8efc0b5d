"""The custody log: sealed to the caseworker, signed by them, chained — so a record changed,
removed, moved or added by anyone else is caught when the log is read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from crypto.custody import open_custody_entry, seal_custody_entry
from crypto.errors import OpenFailure
from crypto.keys import CaseworkerKeys, X25519SecretKey
from desk.errors import DeskError
from desk.evidence.custody import (
    NOT_A_RECORD,
    OPENED_WITH_RECOVERY_KEY,
    ChainBreak,
    CustodyLog,
    UnverifiedCustodyLog,
)
from tests.evidence.custody_damage import (
    AT,
    DAMAGES,
    damage,
    forged_record,
    records,
    write_history,
)


@pytest.fixture
def log_with_three(tmp_path: Path) -> tuple[CustodyLog, Path, CaseworkerKeys]:
    keys = CaseworkerKeys.generate()
    path = tmp_path / "custody.log"
    return write_history(path, keys, "K7Q-4M2P"), path, keys


def test_events_come_back_in_order_per_case_and_the_file_names_no_case(
    log_with_three: tuple[CustodyLog, Path, CaseworkerKeys],
) -> None:
    log, path, _ = log_with_three
    assert [(e.event, e.at) for e in log.events("K7Q-4M2P")] == [
        ("opened", AT),
        ("packaged", AT + dt.timedelta(minutes=2)),
    ]
    assert len(log.events()) == 3
    content = path.read_bytes()
    assert b"K7Q" not in content
    assert b"opened" not in content
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda r: [r[0], r[2]], id="removed"),
        pytest.param(lambda r: [r[1], r[0], r[2]], id="moved"),
        pytest.param(lambda r: [r[0], r[1][:-1] + bytes([r[1][-1] ^ 1]), r[2]], id="changed"),
        pytest.param(lambda r: [r[0], r[1], r[2][:-3]], id="torn"),
    ],
)
def test_a_record_removed_moved_changed_or_torn_is_caught(
    log_with_three: tuple[CustodyLog, Path, CaseworkerKeys], edit: object
) -> None:
    log, path, _ = log_with_three
    path.write_bytes(b"".join(edit(records(path))))  # type: ignore[operator]
    with pytest.raises(DeskError, match="changed or damaged"):
        log.events()
    with pytest.raises(DeskError):
        log.record("K7Q-4M2P", "opened", AT)


@pytest.mark.parametrize("how", list(DAMAGES))
def test_each_damage_the_commands_and_the_desk_are_tested_with_is_caught(
    log_with_three: tuple[CustodyLog, Path, CaseworkerKeys], how: str
) -> None:
    log, path, keys = log_with_three
    damaged = damage(path, keys, how)
    with pytest.raises(UnverifiedCustodyLog, match="changed or damaged") as caught:
        log.events()
    assert caught.value.path == path
    assert path.read_bytes() == damaged


@pytest.mark.parametrize("how", list(DAMAGES))
def test_verify_stops_at_the_first_bad_record_while_events_still_refuse_the_log(
    log_with_three: tuple[CustodyLog, Path, CaseworkerKeys], how: str
) -> None:
    log, path, keys = log_with_three
    sound = log.events()
    damaged = damage(path, keys, how)
    reading = log.verify()
    assert reading.broken is not None
    assert reading.events == tuple(sound[: reading.broken.number - 1])
    assert reading.broken.offset == sum(len(r) for r in records(path)[: len(reading.events)])
    with pytest.raises(UnverifiedCustodyLog):
        log.events()
    assert path.read_bytes() == damaged


def test_a_record_of_this_key_that_holds_no_entry_is_not_a_record(
    log_with_three: tuple[CustodyLog, Path, CaseworkerKeys],
) -> None:
    log, path, keys = log_with_three
    size = path.stat().st_size
    sealed = seal_custody_entry(b"not a custody entry", keys)
    with path.open("ab") as handle:
        handle.write(len(sealed).to_bytes(4, "big") + sealed)
    reading = log.verify()
    assert reading.broken == ChainBreak(4, size, NOT_A_RECORD)
    assert len(reading.events) == 3


def test_a_log_that_cannot_be_read_cannot_be_verified(tmp_path: Path) -> None:
    path = tmp_path / "custody.log"
    path.mkdir()  # a folder in its place: a sync tool's conflict, a copy gone wrong
    log = CustodyLog(path, CaseworkerKeys.generate())
    with pytest.raises(UnverifiedCustodyLog, match="could not be read"):
        log.events()
    with pytest.raises(UnverifiedCustodyLog):
        log.record("K7Q-4M2P", "opened", AT)
    assert path.is_dir()


def test_a_record_sealed_by_someone_who_knows_only_the_public_key_is_refused(
    log_with_three: tuple[CustodyLog, Path, CaseworkerKeys],
) -> None:
    log, path, keys = log_with_three
    # Anyone can seal to the caseworker's public key; only the caseworker can sign.
    forged = forged_record(path, keys)
    with path.open("ab") as handle:
        handle.write(forged)
    with pytest.raises(DeskError):
        log.events()


def test_custody_records_open_only_with_the_keys_that_sealed_them() -> None:
    keys = CaseworkerKeys.generate()
    sealed = seal_custody_entry(b'{"case": "K7Q-4M2P"}', keys)
    assert open_custody_entry(sealed, keys) == b'{"case": "K7Q-4M2P"}'
    with pytest.raises(OpenFailure):
        open_custody_entry(sealed, CaseworkerKeys.generate())


def test_a_recovery_key_kept_beside_a_caseworker_key_keeps_its_own_log(tmp_path: Path) -> None:
    # One file holding records of two keys would read as damaged for both.
    keys, recovery = CaseworkerKeys.generate(), X25519SecretKey.generate()
    mine = CustodyLog.beside(tmp_path / "amira.key", keys)
    theirs = CustodyLog.beside_recovery_key(tmp_path / "org-recovery.key", recovery)
    mine.record("K7Q-4M2P", "opened", AT)
    theirs.record("K7Q-4M2P", OPENED_WITH_RECOVERY_KEY, AT + dt.timedelta(minutes=1))
    mine.record("K7Q-4M2P", "packaged", AT + dt.timedelta(minutes=2))
    assert [e.event for e in mine.events()] == ["opened", "packaged"]
    assert [(e.event, e.at) for e in theirs.events()] == [
        (OPENED_WITH_RECOVERY_KEY, AT + dt.timedelta(minutes=1))
    ]
    # Only the recovery key reads and extends its log; another recovery key cannot.
    with pytest.raises(UnverifiedCustodyLog):
        CustodyLog.beside_recovery_key(tmp_path / "other.key", X25519SecretKey.generate()).events()
