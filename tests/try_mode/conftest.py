"""``sanad try`` as a real subprocess: started, waited for until its page answers, stopped."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
_URL = re.compile(r"is ready: (http://\S+)")
_FOLDER = re.compile(r"keys and database are in (/\S+)\.$")


@dataclass
class SanadTry:
    """A running ``sanad try``: its page, its temporary folder and how long it took to start."""

    process: subprocess.Popen[str]
    url: str
    folder: Path
    ready_seconds: float

    def stop(self, signum: int = signal.SIGINT) -> int:
        """Send ``signum`` and return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=STOP_TIMEOUT)


def _read_announcement(process: subprocess.Popen[str], deadline: float) -> tuple[str, Path]:
    """The page URL and folder ``sanad try`` prints; read by a thread, so the deadline holds."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")  # end of output

    threading.Thread(target=read, daemon=True).start()
    url: str | None = None
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if not line:
            break  # the process ended before announcing its page
        if found := _URL.search(line):
            url = found.group(1)
        elif (found := _FOLDER.search(line.strip())) and url is not None:
            return url, Path(found.group(1))
    raise AssertionError("sanad try did not announce its page")


def _wait_reachable(url: str, deadline: float) -> None:
    with httpx.Client(trust_env=False, timeout=5) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if http.get(url).status_code == 200:
                    return
            time.sleep(0.05)
    raise AssertionError("the page of sanad try is not reachable")


def start_sanad_try(
    log: Path, *arguments: str, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """``sanad try ARGUMENTS`` started, ``env`` added to this environment; its stdout piped,
    its stderr (the log) appended to ``log``."""
    with log.open("a") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "try", *arguments],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )


@contextlib.contextmanager
def sanad_try(log: Path, *arguments: str) -> Iterator[SanadTry]:
    """Start ``sanad try ARGUMENTS``; stopped with SIGINT (SIGKILL if stuck) on leaving."""
    started = time.monotonic()
    deadline = started + READY_TIMEOUT
    process = start_sanad_try(log, *arguments)
    try:
        url, folder = _read_announcement(process, deadline)
        _wait_reachable(url, deadline)
        yield SanadTry(process, url, folder, time.monotonic() - started)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
