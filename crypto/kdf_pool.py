"""Bounded Argon2id: one at a time, off the event loop (docs/crypto.md, "Bounded Argon2id").

Each receipt derivation costs 64 MiB for a fraction of a second. Run on the event loop it would
stall every other reporter (I8); run in a thread per request, a flood of guesses would allocate
64 MiB per guess. :class:`KdfPool` runs derivations one at a time in a single worker thread and
admits at most ``max_waiting`` more behind the one running; past that it raises :class:`Busy` at
once, without queuing anything, so memory stays at one Argon2id instance plus a few small
callables however many requests arrive.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from crypto.errors import CryptoError
from crypto.receipts import MailboxSecrets, Receipt, derive_mailbox

T = TypeVar("T")


class Busy(CryptoError):
    """Too many requests are waiting for the same slow step; try again in a minute."""


class KdfPool:
    """Runs slow key derivations one at a time in a dedicated worker thread, behind a bound.

    ``max_waiting`` is how many requests may wait behind the one running. The pool is safe to
    share between tasks of one event loop (and between loops: the counter is thread-safe). Call
    :meth:`close` (or use it as an async context manager) when the application stops.
    """

    def __init__(self, max_waiting: int) -> None:
        if max_waiting < 0:
            raise ValueError("max_waiting must be zero or more")
        self._max_waiting = max_waiting
        # One thread: that thread is the whole bound on concurrent Argon2id memory.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sanad-kdf")
        self._lock = threading.Lock()
        self._depth = 0

    @property
    def max_waiting(self) -> int:
        """How many requests may wait behind the running one before :class:`Busy`."""
        return self._max_waiting

    @property
    def queue_depth(self) -> int:
        """Requests admitted and not yet finished: the running one plus those waiting."""
        with self._lock:
            return self._depth

    def _release(self, _future: object) -> None:
        # Runs when the work finishes, fails or is cancelled before it started: a cancelled
        # caller frees its slot only once its derivation can no longer use memory.
        with self._lock:
            self._depth -= 1

    async def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` in the worker thread and return its result.

        Raises :class:`Busy` immediately when ``max_waiting`` requests already wait behind a
        running one. Cancelling the caller cancels ``work`` if it has not started yet.
        """
        with self._lock:
            if self._depth > self._max_waiting:
                raise Busy("busy, try again in a minute")
            self._depth += 1
        try:
            future = self._executor.submit(work)
        except BaseException:
            with self._lock:
                self._depth -= 1
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    async def derive_mailbox(
        self, receipt: Receipt, *, salt: bytes, pepper: bytes
    ) -> MailboxSecrets:
        """:func:`crypto.receipts.derive_mailbox` through the pool (may raise :class:`Busy`)."""
        return await self.run(lambda: derive_mailbox(receipt, salt=salt, pepper=pepper))

    def close(self) -> None:
        """Stop accepting work, drop what waits, and let the running derivation finish."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> KdfPool:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()
