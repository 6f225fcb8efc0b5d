"""``sanad try`` starts quickly, listens on loopback only, and leaves nothing behind."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import SanadError
from bot.try_mode import loopback_host
from tests.try_mode.conftest import sanad_try

pytestmark = pytest.mark.slow

# A person waits for it: a functional bound, from the command to a page that answers. The goal
# is under 5 s, and it is met on this machine when it is not starved (about 2 s of CPU, 2.9-4.3 s
# wall at load 5-6: docs/BENCHMARKS.md, "sanad try"); the test allows twice that, so a loaded CI
# machine does not make it flaky, while a start that grew by seconds still fails it.
READY_WITHIN_SECONDS = 10.0


def test_try_page_is_reachable_within_seconds(tmp_path: Path) -> None:
    with sanad_try(tmp_path / "try.log") as running:
        print(f"sanad try: page reachable after {running.ready_seconds:.2f} s")
        assert running.ready_seconds < READY_WITHIN_SECONDS


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_try_deletes_its_folder_when_stopped_by_a_signal(tmp_path: Path, signum: int) -> None:
    with sanad_try(tmp_path / "try.log") as running:
        folder = running.folder
        assert folder.is_dir()
        assert folder.stat().st_mode & 0o777 == 0o700
        assert (folder / "caseworker.key").is_file()
        assert (folder / "sanad.sqlite3").is_file()
        assert running.stop(signum) == 0
    assert not folder.exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_try_refuses_to_listen_beyond_loopback(host: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "try", "--host", host],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("sanad: --host must be a loopback address")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("host", "address"), [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"),
                          ("::1", "::1"), ("[::1]", "::1"), ("127.0.0.2", "127.0.0.2")]
)
def test_loopback_hosts_are_accepted(host: str, address: str) -> None:
    assert loopback_host(host) == address


def test_a_non_loopback_host_is_an_error_not_a_fallback() -> None:
    with pytest.raises(SanadError, match="loopback"):
        loopback_host("10.0.0.1")


def test_try_on_a_port_in_use_fails_with_one_line_and_a_hint() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "try", "--port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"sanad: cannot listen on 127.0.0.1 port {port} (Address already in use)",
        "hint: choose another --port, or --port 0 for any free one",
    ]
