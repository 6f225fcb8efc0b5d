"""``sanad run`` on PostgreSQL: stand by, take over, receive, and stop at once when it ends.

Every instance runs the whole application except the receiving of updates: the scheduler (so
every instance claims outbox deliveries — the claim protocol makes that safe — while the
once-only jobs ask the fence and skip on a standby), the health endpoint (``/healthz`` says
``"role": "standby"``), and, in webhook mode, a stand-in on the webhook port that answers 503 to
everything, so the reverse proxy sends Telegram's requests to the leader.

An instance logs ``standby.ready`` once it is up and can take over: the application started and,
in webhook mode, the stand-in listening. Until then a starting instance could not take over,
and its webhook port refuses connections.

When the :class:`~bot.leadership.elector.Elector` wins, the takeover runs in this order: the
epoch is bumped (in :meth:`Elector.become_leader`), the takeover tasks run (the erase job over
what the previous leader left, which also learns whose drafts died with it; then the release of
the outbox claims it held, :mod:`bot.leadership.claims`), and only then are updates received
(polling, or PTB's webhook server in place of the stand-in).

When leadership is lost, the fence already refuses every update and every once-only write; the
process then ends at once with :data:`EXIT_LEADERSHIP_LOST`, as if killed: no clean hand-over
(its writes would be refused anyway, and the successor erases what the journal stored), and no
confirming of updates fetched but not handled, so Telegram hands them to the successor. The
service manager starts it again, as a standby (``Restart=on-failure`` in deploy/sanad.service).

A stop signal (SIGINT, SIGTERM) ends it cleanly at any moment, start-up included
(:mod:`bot.lifecycle`): the updater, then the application (``post_stop``: open conversations
handed to housekeeping), then the lock connection, which frees the lock for a standby at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application as WebApplication
from tornado.web import RequestHandler

from bot.config import Config
from bot.leadership.claims import AbsentClaims
from bot.leadership.connection import LockConnection
from bot.leadership.elector import Elector
from bot.leadership.fence import LeaderFence
from bot.leadership.timings import Timings
from bot.lifecycle import (
    StartReceiving,
    start_application,
    stop_application,
    stop_on_signals,
    unless_stopped,
)
from bot.logs import event, get_logger
from bot.runtime import webhook_arguments

#: The exit status of an instance that lost its leadership (EX_TEMPFAIL: start it again).
EXIT_LEADERSHIP_LOST = 75

_log = get_logger("leadership")

AnyApplication = Any  # telegram.ext.Application[...]; its generics add nothing here


class _Unavailable(RequestHandler):
    """Every request to a standby's webhook port: 503, so the proxy tries the leader."""

    def prepare(self) -> None:
        self.set_status(503)
        self.finish("standby")


class StandbyWebhook:
    """The stand-in on the webhook port while this instance stands by."""

    def __init__(self, listen: str, port: int) -> None:
        self._listen = listen
        self._port = port
        self._server: HTTPServer | None = None

    def start(self) -> None:
        server = HTTPServer(WebApplication([(r"/.*", _Unavailable)]))
        server.add_sockets(bind_sockets(self._port, self._listen))
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
            await server.close_all_connections()


async def _lead_or_stop(
    elector: Elector,
    fence: LeaderFence,
    start_receiving: StartReceiving,
    stop: asyncio.Event,
    standby: StandbyWebhook | None,
    on_lost: Callable[[], object],
) -> bool:
    """Stand by, then lead until ``stop`` (False) or until leadership is lost (True)."""
    if standby is not None:
        standby.start()
    event(_log, "standby.ready")
    try:
        if not await elector.become_leader(stop):
            return False
        await fence.take_over()
    finally:
        if standby is not None:
            await standby.stop()
    if stop.is_set():
        return False
    if not await unless_stopped(stop, start_receiving()):
        return False
    event(_log, "leader.receiving", epoch=fence.epoch or 0)
    lost = await elector.watch(stop)
    if lost:
        on_lost()
    return lost


async def serve(
    application: AnyApplication,
    elector: Elector,
    fence: LeaderFence,
    start_receiving: StartReceiving,
    *,
    standby: StandbyWebhook | None = None,
    on_lost: Callable[[], object] = lambda: None,
) -> bool:
    """Run ``application`` as one instance until a stop signal (False) or lost leadership (True).

    A lost leadership calls ``on_lost`` at once (``sanad run`` ends the process there), then
    returns without stopping anything.
    """
    stop = asyncio.Event()
    stop_on_signals(stop)
    try:
        lost = await start_application(application, stop) and await _lead_or_stop(
            elector, fence, start_receiving, stop, standby, on_lost
        )
    except BaseException:
        await stop_application(application, release=elector.close)
        raise
    if not lost:
        await stop_application(application, release=elector.close)
    return lost


def end_after_lost_leadership() -> None:
    """End the process at once, as if killed (see the module docstring)."""
    event(_log, "leader.stopping", logging.ERROR)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_LEADERSHIP_LOST)


def run_instance(application: AnyApplication, fence: LeaderFence, config: Config) -> None:
    """``sanad run`` on PostgreSQL: one instance, a standby until it leads (module docstring).

    ``telegram.drop_pending_updates`` does not apply here: a takeover must not drop what
    reporters sent while no one led.
    """
    timings = Timings(config.ha.takeover_seconds)
    claims = AbsentClaims(fence)
    fence.at_takeover(claims.release)
    elector = Elector(
        lambda: LockConnection(config.database.url, fence.name, timings),
        fence,
        timings,
        on_heartbeat=claims.at_heartbeat,
    )
    telegram = config.telegram
    updater = application.updater
    standby: StandbyWebhook | None = None
    if telegram.mode == "webhook":
        arguments = webhook_arguments(config)
        standby = StandbyWebhook(telegram.webhook_listen, telegram.webhook_port)

        async def start_receiving() -> object:
            return await updater.start_webhook(**arguments)
    else:

        async def start_receiving() -> object:
            return await updater.start_polling()

    event(_log, "instance.starting")
    asyncio.run(
        serve(
            application,
            elector,
            fence,
            start_receiving,
            standby=standby,
            on_lost=end_after_lost_leadership,
        )
    )
