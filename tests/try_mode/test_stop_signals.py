"""A stop signal at any point of ``sanad try``'s start-up is a clean stop, as it is once ready.

``sanad try`` runs as a person runs it, in a subprocess, its temporary folder made in a folder of
the test's (``TMPDIR``), so the test sees how far start-up has gone: the demo keys written, the
database being created (its migrations run), the database ready (the bot about to poll and enrol
the demo caseworker). The signal sent there must end the sandbox at once: exit status 0, no
traceback, the folder removed, and the page never announced — a sandbox told to stop does not
finish starting first.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.try_mode.conftest import READY_TIMEOUT, STOP_TIMEOUT, start_sanad_try

pytestmark = pytest.mark.slow

Reached = Callable[[Path, Path], bool]


def _in_sandbox(name: str) -> Reached:
    return lambda temporary, _log: any(temporary.glob(f"sanad-try-*/{name}"))


def _logged(text: str) -> Reached:
    return lambda _temporary, log: text in log.read_text()


POINTS: dict[str, Reached] = {
    "keys-written": _in_sandbox("caseworker.key"),
    "database-created": _in_sandbox("sanad.sqlite3"),
    "database-ready": _logged("database.ready"),
}


def wait_until(reached: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not reached():
        assert process.poll() is None, "sanad try ended on its own"
        assert time.monotonic() < deadline, "sanad try never got there"
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("point", POINTS)
def test_a_stop_signal_during_start_up_is_a_clean_stop(
    tmp_path: Path, point: str, signum: int
) -> None:
    temporary, log = tmp_path / "tmp", tmp_path / "try.log"
    temporary.mkdir()
    process = start_sanad_try(log, env={"TMPDIR": str(temporary)})
    try:
        wait_until(lambda: POINTS[point](temporary, log), process)
        process.send_signal(signum)
        shown, _ = process.communicate(timeout=STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    logged = log.read_text()
    assert process.returncode == 0, logged
    assert "Traceback" not in logged
    assert "is ready" not in shown  # stopped where it was, not after finishing its start
    assert not any(temporary.glob("sanad-try-*"))
