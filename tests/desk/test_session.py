"""The desk's idle lock, on its own clock: the key and everything decrypted go after the idle
time, whether or not a request comes, and only the passphrase brings them back."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto.keyfile import WrongPassphrase
from desk.evidence.custody import OPENED, CustodyLog
from desk.session import Desk, DeskSettings
from tests.desk.conftest import PASSPHRASE, Caseworker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(caseworker: Caseworker, tmp_path: Path, clock: Clock) -> Desk:
    settings = DeskSettings(caseworker.key_file, tmp_path / "data", tmp_path / "inbox", 60)
    opened = Desk(settings, clock=clock)
    opened.unlock(PASSPHRASE)
    opened.take("case", caseworker.sealed("K7Q-4M2P", [("incident.description", "words")]))
    return opened


@pytest.mark.parametrize("notice", ["lock_if_idle", "touch"])
def test_the_desk_locks_after_the_idle_time_by_its_timer_or_at_the_next_request(
    desk: Desk, clock: Clock, notice: str
) -> None:
    for _ in range(5):  # requests keep it open well past one idle time
        clock.now += 50
        desk.touch()
    assert not desk.locked
    clock.now += 61
    getattr(desk, notice)()
    assert desk.locked
    with pytest.raises(RuntimeError):
        desk.book  # noqa: B018 - nothing decrypted is reachable once locked


def test_only_the_passphrase_unlocks_and_the_cases_come_back(desk: Desk) -> None:
    desk.lock()
    with pytest.raises(WrongPassphrase):
        desk.unlock("not the passphrase")
    assert desk.locked
    desk.unlock(PASSPHRASE)
    assert [case.reference for case in desk.book.cases()] == ["K7Q-4M2P"]


def test_a_case_is_logged_as_opened_once_per_session_and_again_after_the_idle_lock(
    desk: Desk, clock: Clock, caseworker: Caseworker
) -> None:
    log = CustodyLog.beside(caseworker.key_file, caseworker.keys)
    desk.log_open("K7Q-4M2P")
    desk.log_open("K7Q-4M2P")
    assert [(e.case_reference, e.event) for e in log.events()] == [("K7Q-4M2P", OPENED)]
    clock.now += 61
    desk.lock_if_idle()
    desk.unlock(PASSPHRASE)
    desk.log_open("K7Q-4M2P")
    desk.log_open("K7Q-4M2P")
    assert [e.event for e in log.events("K7Q-4M2P")] == [OPENED, OPENED]
