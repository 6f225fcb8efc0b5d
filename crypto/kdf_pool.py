"""Bounded Argon2id in two lanes, off the event loop (docs/crypto.md, "Bounded Argon2id").

Each receipt derivation costs 64 MiB for a fraction of a second. Run on the event loop it would
stall every other reporter (I8); run in a thread per request, a flood of guesses would allocate
64 MiB per guess. :class:`KdfPool` runs derivations in ``workers`` dedicated threads — the whole
bound on concurrent Argon2id memory is ``workers`` × 64 MiB (128 MiB with the default two) plus
a few small callables, however many requests arrive.

Two kinds of request share those threads, and they are not alike:

- **Submissions** (:attr:`Lane.SUBMISSION`: a new report's mailbox) are what the bot is for. They
  always go first, and with two workers or more one worker is theirs alone: look-ups never occupy
  every thread, so a submission starts at once however hard the receipt look-ups are hammered
  (with one worker it waits at most for the one look-up already running). A burst of them waits
  in line, up to ``max_waiting_submissions`` — each waiting one is a finished draft already in
  memory and a small callable, so the line can be long — rather than being turned away.
- **Look-ups** (:attr:`Lane.LOOKUP`: ``/status``, additions, re-keying) are what a guessing flood
  sends. They keep their own small bound (``max_waiting``, then :class:`Busy` at once) and, on
  top of the per-user limit the conversation applies, a global rate (``lookups_per_minute``, a
  token bucket with a burst of the same size), so that many accounts guessing together cannot
  keep the look-up worker — and a core — busy all the time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from crypto.errors import CryptoError
from crypto.receipts import MailboxSecrets, Receipt, derive_mailbox

T = TypeVar("T")

_SECONDS_PER_MINUTE = 60.0


class Busy(CryptoError):
    """Too many requests are waiting for the same slow step; try again in a minute."""


class Lane(Enum):
    """Which line a derivation waits in (see the module docstring)."""

    SUBMISSION = "submission"
    LOOKUP = "lookup"


@dataclass(eq=False)
class _Job:
    work: Callable[[], Any]
    lane: Lane
    future: Future[Any] = field(default_factory=Future)


class _RateBucket:
    """A token bucket of ``per_minute`` tokens a minute, holding at most ``per_minute``.

    Not thread-safe on its own: the pool calls it under its lock.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / _SECONDS_PER_MINUTE
        self._clock = clock
        self._tokens = self._capacity
        self._updated = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class KdfPool:
    """Runs slow key derivations in dedicated worker threads, in two lanes, behind bounds.

    ``max_waiting`` is how many look-ups may wait beyond those running before :class:`Busy`;
    ``max_waiting_submissions`` the same for submissions; ``lookups_per_minute`` (None: no rate)
    how many look-ups the whole bot admits a minute. The pool is safe to share between tasks of
    one event loop (and between loops: its state is behind a lock). Call :meth:`close` (or use it
    as an async context manager) when the application stops.
    """

    def __init__(
        self,
        max_waiting: int,
        *,
        workers: int = 2,
        max_waiting_submissions: int = 256,
        lookups_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_waiting < 0 or max_waiting_submissions < 0:
            raise ValueError("max_waiting must be zero or more")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if lookups_per_minute is not None and lookups_per_minute < 1:
            raise ValueError("lookups_per_minute must be at least 1")
        self._workers = workers
        # One worker stays free for submissions whenever there is more than one (I8: a flood of
        # receipt guesses never delays a report being sealed).
        self._lookup_workers = max(1, workers - 1)
        self._bounds = {Lane.LOOKUP: max_waiting, Lane.SUBMISSION: max_waiting_submissions}
        self._lookup_rate = (
            _RateBucket(lookups_per_minute, clock) if lookups_per_minute is not None else None
        )
        self._lock = threading.Condition()
        self._queues: dict[Lane, deque[_Job]] = {lane: deque() for lane in Lane}
        # Admitted and not finished, per lane: running plus waiting (cancelled ones leave at once).
        self._admitted = dict.fromkeys(Lane, 0)
        self._running = dict.fromkeys(Lane, 0)
        self._threads: list[threading.Thread] = []
        self._closed = False

    @property
    def max_waiting(self) -> int:
        """How many look-ups may wait beyond those running before :class:`Busy`."""
        return self._bounds[Lane.LOOKUP]

    @property
    def workers(self) -> int:
        """Worker threads: at most this many Argon2id instances (64 MiB each) at once."""
        return self._workers

    @property
    def queue_depth(self) -> int:
        """Requests admitted and not yet finished in both lanes: running plus waiting."""
        with self._lock:
            return sum(self._admitted.values())

    def lane_depth(self, lane: Lane) -> int:
        """Requests of ``lane`` admitted and not yet finished."""
        with self._lock:
            return self._admitted[lane]

    def _capacity(self, lane: Lane) -> int:
        running_room = self._workers if lane is Lane.SUBMISSION else self._lookup_workers
        return running_room + self._bounds[lane]

    async def run(self, work: Callable[[], T], *, lane: Lane = Lane.LOOKUP) -> T:
        """Run ``work`` in a worker thread and return its result.

        Raises :class:`Busy` immediately when ``lane``'s line is full, or for a look-up past the
        global rate; nothing is queued then. Cancelling the caller cancels ``work`` if it has not
        started yet, and frees its place at once.
        """
        job = _Job(work, lane)
        with self._lock:
            if self._closed:
                raise Busy("busy, try again in a minute")
            if self._admitted[lane] >= self._capacity(lane):
                raise Busy("busy, try again in a minute")
            if (
                lane is Lane.LOOKUP
                and self._lookup_rate is not None
                and not self._lookup_rate.take()
            ):
                raise Busy("busy, try again in a minute")
            self._admitted[lane] += 1
            self._queues[lane].append(job)
            self._start_worker()
            self._lock.notify()
        job.future.add_done_callback(lambda _future: self._finished(job))
        return await asyncio.wrap_future(job.future)

    async def derive_mailbox(
        self, receipt: Receipt, *, salt: bytes, pepper: bytes, lane: Lane = Lane.LOOKUP
    ) -> MailboxSecrets:
        """:func:`crypto.receipts.derive_mailbox` through the pool (may raise :class:`Busy`)."""
        return await self.run(lambda: derive_mailbox(receipt, salt=salt, pepper=pepper), lane=lane)

    def _start_worker(self) -> None:
        # Threads start on demand (caller holds the lock): a command that opens the runtime and
        # never derives anything starts none.
        waiting = sum(len(queue) for queue in self._queues.values())
        if len(self._threads) < self._workers and waiting > self._idle_workers():
            thread = threading.Thread(
                target=self._serve, name=f"sanad-kdf-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _idle_workers(self) -> int:
        return len(self._threads) - sum(self._running.values())

    def _finished(self, job: _Job) -> None:
        # Runs when the work finishes, fails, or is cancelled before it started: a cancelled
        # waiter leaves the line at once, a running derivation frees its place only once it no
        # longer uses memory.
        with self._lock:
            self._admitted[job.lane] -= 1
            if job.future.cancelled():
                # A worker may already have taken it, and then skips it.
                with contextlib.suppress(ValueError):
                    self._queues[job.lane].remove(job)

    def _next_job(self) -> _Job | None:
        """The next job to run, submissions first (caller holds the lock)."""
        if self._queues[Lane.SUBMISSION]:
            return self._queues[Lane.SUBMISSION].popleft()
        if self._queues[Lane.LOOKUP] and self._running[Lane.LOOKUP] < self._lookup_workers:
            return self._queues[Lane.LOOKUP].popleft()
        return None

    def _serve(self) -> None:
        while True:
            with self._lock:
                job = self._next_job()
                while job is None:
                    if self._closed:
                        return
                    self._lock.wait()
                    job = self._next_job()
                self._running[job.lane] += 1
            try:
                if job.future.set_running_or_notify_cancel():
                    try:
                        result = job.work()
                    except BaseException as exc:  # handed to the caller, as an executor does
                        job.future.set_exception(exc)
                    else:
                        job.future.set_result(result)
            finally:
                with self._lock:
                    self._running[job.lane] -= 1
                    # A look-up place may have opened for a waiting look-up.
                    self._lock.notify()

    def close(self) -> None:
        """Stop accepting work, drop what waits, and let the running derivations finish."""
        with self._lock:
            self._closed = True
            dropped = [job for queue in self._queues.values() for job in queue]
            for queue in self._queues.values():
                queue.clear()
            self._lock.notify_all()
        for job in dropped:
            job.future.cancel()

    async def __aenter__(self) -> KdfPool:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()
