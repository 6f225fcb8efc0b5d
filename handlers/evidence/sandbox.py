"""Cleaning in a sandbox: each file is cleaned in a fresh, limited worker process.

Parsers of images, PDFs and audio are where a crafted file attacks: a content stream that
inflates to gigabytes, a JPEG with thousands of scans, a parser bug. Cleaning used to run in the
bot's default thread pool, the one that seals reports — so a few such files stalled every
submission and one large one got the bot killed for lack of memory (issue "Hostile files").

Here every file gets its own worker: a new interpreter (``python -I -m
handlers.evidence.worker``, started with ``exec`` — not a fork of the bot, so it holds no token,
key or draft — and an empty environment, so not the webhook secret either). Before it reads the
file the worker limits itself (:func:`handlers.evidence.worker.limit_worker`): address space
(``RLIMIT_AS``, :data:`~handlers.evidence.limits.WORKER_ADDRESS_SPACE`), CPU time
(``RLIMIT_CPU``), no core dump and no file written (``RLIMIT_CORE``/``RLIMIT_FSIZE`` = 0: a
core dump or a temporary file would put evidence on disk, I1). The parent kills it after
:data:`~handlers.evidence.limits.WORKER_WALL_SECONDS`. A worker that dies, is killed or answers
outside the protocol costs that one file (:data:`~handlers.evidence.results.NOT_CLEANED`),
never the bot; one file per process also means a file that subverted a parser never sees the
next reporter's. Starting an interpreter and importing the parsers costs about 0.2 s a file.

The file crosses to the worker as bytes on its standard input and comes back on its standard
output (I1: never a temporary file). Nothing from the worker is unpickled or trusted: it answers
with one JSON line that names a known refusal or output type, then the cleaned bytes, read with
a length bound and checked against the type's first bytes; the parent rebuilds the result from
its own constants.

At most :data:`~handlers.evidence.limits.WORKERS` files are cleaned at once, each driven by one
thread of this sandbox's own pool (never the event loop's default executor, which seals reports
and writes the database); :data:`~handlers.evidence.limits.QUEUE` more may wait, and beyond that
the reporter is told to send the file again in a minute (:data:`~handlers.evidence.results.BUSY`),
their draft kept.

Not contained (said, not pretended): the worker runs as the bot's user, so a parser exploit in
it could read what that user may read and open network connections; a seccomp or Landlock filter
for the worker would close that.
"""

from __future__ import annotations

import asyncio
import subprocess  # only to run our own cleaning worker, below # nosec B404
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import IO, cast

from bot.logs import event, get_logger
from handlers.evidence.limits import (
    QUEUE,
    WORKER_ADDRESS_SPACE,
    WORKER_CPU_SECONDS,
    WORKER_WALL_SECONDS,
    WORKERS,
)
from handlers.evidence.protocol import ProtocolError, read_answer
from handlers.evidence.results import BUSY, NOT_CLEANED, CleanedEvidence, too_big
from handlers.i18n import Refused

_log = get_logger("evidence")

_WORKER_MODULE = "handlers.evidence.worker"


@dataclass(frozen=True)
class WorkerLimits:
    """The limits of one worker: address space (bytes), CPU seconds, wall-clock seconds."""

    address_space: int = WORKER_ADDRESS_SPACE
    cpu_seconds: int = WORKER_CPU_SECONDS
    wall_seconds: float = WORKER_WALL_SECONDS


class CleaningSandbox:
    """Cleans evidence files in limited worker processes, a few at a time (module docstring)."""

    def __init__(
        self, *, workers: int = WORKERS, queue: int = QUEUE, limits: WorkerLimits | None = None
    ) -> None:
        self._capacity = workers + queue
        self._in_flight = 0  # changed on the event loop's thread only
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="sanad-clean")
        self.limits = limits or WorkerLimits()

    async def clean(self, data: bytes, *, max_bytes: int) -> CleanedEvidence | Refused:
        """A cleaned copy of ``data``, or the reason it is refused; never raises for the file.

        Answers :data:`~handlers.evidence.results.BUSY` at once when the queue is full, and
        :data:`~handlers.evidence.results.NOT_CLEANED` when the worker died or was killed.
        """
        if len(data) > max_bytes:
            return too_big(max_bytes)
        if self._in_flight >= self._capacity:
            event(_log, "cleaning_busy")
            return BUSY
        self._in_flight += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._threads, self._run_worker, data, max_bytes)
        finally:
            self._in_flight -= 1

    def _run_worker(self, data: bytes, max_bytes: int) -> CleanedEvidence | Refused:
        """Runs one file through one new worker (on a sandbox thread: blocking is fine here).

        Whatever goes wrong — the worker cannot start, dies, runs out of memory or CPU, is
        killed at the wall-clock limit, or answers outside the protocol — costs this file only.
        """
        try:
            return self._clean_in_worker(data, max_bytes)
        except (OSError, ValueError, ProtocolError):
            event(_log, "cleaning_worker_failed")
            return NOT_CLEANED

    def _clean_in_worker(self, data: bytes, max_bytes: int) -> CleanedEvidence | Refused:
        limits = self.limits
        arguments = [str(max_bytes), str(limits.address_space), str(limits.cpu_seconds)]
        with subprocess.Popen(  # noqa: S603 — our interpreter, module, int arguments # nosec B603
            # -I: no environment variables, user site or working directory on the path; -B: no
            # bytecode written (the worker may write no file at all: RLIMIT_FSIZE).
            [sys.executable, "-I", "-B", "-m", _WORKER_MODULE, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a traceback could quote the file
            env={},  # nothing of the bot's environment (webhook secret) reaches the worker
        ) as worker:
            # The wall-clock kill also unblocks a write or a read the worker stopped answering.
            timer = threading.Timer(limits.wall_seconds, _kill_overrunning, (worker,))
            timer.start()
            try:
                stdin, stdout = cast(IO[bytes], worker.stdin), cast(IO[bytes], worker.stdout)
                stdin.write(data)
                stdin.close()
                result = read_answer(stdout, max_bytes=max_bytes)
                if worker.wait() != 0:
                    raise ProtocolError
                return result
            finally:
                timer.cancel()
                worker.kill()  # a no-op once it has exited; never left running


def _kill_overrunning(worker: subprocess.Popen[bytes]) -> None:
    event(_log, "cleaning_worker_killed")
    worker.kill()


@cache
def shared_sandbox() -> CleaningSandbox:
    """The bot's one sandbox: its worker and queue bounds hold for all flows together."""
    return CleaningSandbox()
