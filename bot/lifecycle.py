"""Start the application, receive updates, and stop cleanly on SIGINT or SIGTERM — at any moment.

PTB's ``run_polling`` and ``run_webhook`` turn a stop signal into ``SystemExit`` raised wherever
the event loop happens to be. While polling that is a clean stop; during start-up it is not: it
leaves a call to the Bot API (``deleteWebhook``, ``setWebhook``) half-done, the library then
closes the connection under it, and ``sanad run`` ended with exit status 1 and a false "cannot be
reached" (or a ``RuntimeError``), without its clean stop.

Here a signal only sets an :class:`asyncio.Event`. Each step of start-up that waits on the
network (``getMe`` in ``initialize``, setting or deleting the webhook) is cancelled when the event
is set; the database's preparation (``post_init``: migrations, revocation checks) is never cut
short — it is local, bounded, and a migration stopped half-way is the one thing worse than a slow
stop. Whatever point start-up had reached, :func:`stop_application` then undoes it in the order
``run_polling`` does after a signal: receiving, the application and its ``post_stop`` (open
conversations handed to housekeeping, I7), ``shutdown`` and ``post_shutdown`` (the runtime and
its database closed). ``sanad try`` starts and stops its bot with the same :func:`receiving`,
and its demo caseworker's enrolment is one more step a stop cuts short.

Before the event loop runs (reading the configuration and the token, opening the runtime:
server secrets, bot key and certificate, the database's engine), a signal would still get
Python's default handling: SIGTERM ending the process at once (status -15), SIGINT a
``KeyboardInterrupt`` raised wherever it lands. :func:`hold_stop_signals` blocks both there
instead; they stay pending, not lost, and :func:`stop_on_signals` unblocks them once the loop's
handlers are in place, so a signal that came during those steps sets the stop event at once and
:func:`start_application` goes no further: nothing has reached Telegram or the database yet, and
the runtime is closed by ``post_shutdown``. Those steps are local and short (no network, no
waiting on a lock), so holding the signal through them delays the stop by no more than the
start-up's first second or two, and no step is ever left half-done.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

#: The signals that stop ``sanad run`` cleanly (a service manager's stop, Ctrl-C).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

AnyApplication = Any  # telegram.ext.Application[...]; its generics add nothing here
StartReceiving = Callable[[], Awaitable[object]]
Release = Callable[[], Awaitable[object]]


def hold_stop_signals() -> None:
    """Hold :data:`STOP_SIGNALS` until :func:`stop_on_signals` (see the module docstring): the
    first call of a command that starts an event loop, before its imports and configuration.

    Threads started meanwhile inherit the block and never take the signals (Python handles
    them on the main thread anyway); nothing spawns a process before the loop runs.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Make :data:`STOP_SIGNALS` set ``stop`` instead of interrupting whatever runs; a signal
    held since :func:`hold_stop_signals` sets it now."""
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


async def unless_stopped(stop: asyncio.Event, work: Awaitable[object]) -> bool:
    """Await ``work``; True once it is done with no stop set, False once ``stop`` is set (a
    ``work`` not done is cancelled; one whose stop was set before it began never begins).

    ``work``'s own failure is raised. Cancelled, it is awaited to its end, so nothing it started
    runs on behind the clean stop.
    """
    task = asyncio.ensure_future(work)
    stopped = asyncio.create_task(stop.wait())
    try:
        if not stop.is_set():
            await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled() and stop.is_set():
        return False
    task.result()  # the work's failure, or its cancellation by anything but a stop
    return not stop.is_set()


async def start_application(application: AnyApplication, stop: asyncio.Event) -> bool:
    """``initialize``, ``post_init`` and ``start``, as ``run_polling`` runs them; False when a
    stop came first (what had started is left for :func:`stop_application`)."""
    if not await unless_stopped(stop, application.initialize()):
        return False
    if application.post_init is not None:
        # Not cancelled: the database is prepared to the end, then the stop is honoured.
        await application.post_init(application)
    if stop.is_set():
        return False
    await application.start()
    return True


async def stop_application(application: AnyApplication, release: Release | None = None) -> None:
    """Undo what start-up did, however far it went, in ``run_polling``'s order; ``release``
    (a leader's lock) is freed after ``post_stop`` and before the runtime closes."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
        if application.post_stop is not None:
            await application.post_stop(application)
    if release is not None:
        await release()
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)


@contextlib.asynccontextmanager
async def receiving(
    application: AnyApplication, start_receiving: StartReceiving, stop: asyncio.Event
) -> AsyncIterator[bool]:
    """Start ``application`` and receive updates with ``start_receiving`` (polling or the
    webhook); the block learns whether that was done before ``stop`` was set, and on leaving it,
    however it leaves, everything is stopped cleanly wherever start-up was."""
    try:
        yield await start_application(application, stop) and await unless_stopped(
            stop, start_receiving()
        )
    finally:
        await stop_application(application)


async def run_until_stopped(application: AnyApplication, start_receiving: StartReceiving) -> None:
    """Start ``application``, receive updates with ``start_receiving`` (polling or the webhook),
    and stop cleanly at the first stop signal, wherever start-up was."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    async with receiving(application, start_receiving, stop) as started:
        if started:
            await stop.wait()
