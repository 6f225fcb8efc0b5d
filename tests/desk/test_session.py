"""The desk's idle lock, on its own clock: the key and everything decrypted go after the idle
time, whether or not a request comes, and only the passphrase brings them back."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto.keyfile import WrongPassphrase
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
