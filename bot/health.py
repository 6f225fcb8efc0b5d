"""The operator's health and metrics endpoint, on loopback only (config ``[health]``).

Two pages, served by tornado on the bot's own event loop:

- ``/healthz``: JSON saying whether the database answers a real ``SELECT 1`` within
  :data:`DATABASE_TIMEOUT_SECONDS`, whether the scheduler is running, and how long ago the bot
  last exchanged anything with Telegram; HTTP 200 when all three are fine, 503 otherwise.
- ``/metrics``: the counts of :mod:`bot.metrics` in Prometheus text format.

``/healthz`` also says the process's ``role``: ``"leader"``, or ``"standby"`` for an instance
waiting to take over on PostgreSQL (:mod:`bot.leadership`); a healthy standby is healthy (200).

Both say how much and how long, never who or what: no content, no identifier, no case reference.
Even so the endpoint is not for the world: counts of pending work and of activity are metadata.
It binds a loopback address only (the configuration refuses anything else, and
:meth:`HealthServer.start` refuses again), and it answers only requests whose ``Host`` is a
loopback name, so a web page in a browser on the same machine cannot read it through DNS
rebinding.

**How the bot's contact with Telegram is measured, and why this way.** PTB offers no public hook on
each Bot API call: ``getUpdates`` bypasses the rate limiter, and the request objects and the bot are
closed to wrapping without replacing PTB's own request set-up in the builder. And in webhook mode,
or in polling mode with no one writing, there are no calls to observe anyway, so a quiet bot would
look dead. So :func:`register_health` adds two things, both through PTB's public API: a handler in a
group of its own before every feature's (:data:`UPDATE_COUNTER_GROUP`) that counts each update (an
update arriving is itself contact with Telegram), and a scheduler job that calls ``getMe`` every
:data:`TELEGRAM_PROBE_SECONDS` (the first ``getMe`` is PTB's own, in ``Application.initialize`` just
before ``post_init``). The probe costs one small request a minute, works the same in polling and
webhook mode, notices a revoked token, and, since the scheduler runs it, also shows that scheduled
jobs really run. Deliveries acknowledged by Telegram count as contact too
(:func:`bot.metrics.delivery_sent`). Telegram is "fine" while the last contact is under
:data:`TELEGRAM_STALE_SECONDS` old (five missed probes), or, before any contact, while the endpoint
is younger than that.

:func:`register_health` is the one line :mod:`bot.app` calls. The server starts in the
application's ``post_init``, after the runtime has applied migrations, and stops in its
``post_shutdown``, before the runtime closes the database.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext, TypeHandler
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application as WebApplication
from tornado.web import HTTPError, RequestHandler

from bot.errors import SanadError
from bot.leadership.fence import SINGLE_INSTANCE, Role
from bot.logs import event, get_logger
from bot.metrics import Metrics, process_metrics
from bot.runtime import Runtime
from storage.engine import Database
from storage.errors import StorageError
from storage.outbox import pending_count

#: How long ``/healthz`` waits for ``SELECT 1`` (and ``/metrics`` for the pending count).
DATABASE_TIMEOUT_SECONDS: Final = 2.0
#: How often the scheduler asks Telegram ``getMe``.
TELEGRAM_PROBE_SECONDS: Final = 60.0
#: How old the last contact with Telegram may be before ``/healthz`` says it is not fine.
TELEGRAM_STALE_SECONDS: Final = 5 * TELEGRAM_PROBE_SECONDS
#: The handler group of the update counter: before every feature's handlers, and a group of its
#: own, because PTB runs only the first matching handler of a group and the report flow's flood
#: guard takes every update in group -1.
UPDATE_COUNTER_GROUP: Final = -2
PROBE_JOB_NAME: Final = "telegram-probe"

_log = get_logger("health")

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
AnyContext = CallbackContext[Any, Any, Any, Any]
_Hook = Callable[[AnyApplication], Coroutine[Any, Any, None]]


class HealthEndpointError(SanadError):
    """The health endpoint cannot be served where the configuration says."""


@dataclass(frozen=True)
class HealthReport:
    """The answer of one ``/healthz`` request."""

    database: bool
    scheduler: bool
    telegram: bool
    telegram_seconds_since_contact: float | None
    role: str = "leader"

    @property
    def healthy(self) -> bool:
        return self.database and self.scheduler and self.telegram

    def as_json(self) -> dict[str, object]:
        age = self.telegram_seconds_since_contact
        return {
            "healthy": self.healthy,
            "database": self.database,
            "scheduler": self.scheduler,
            "telegram": self.telegram,
            "telegram_seconds_since_contact": None if age is None else round(age, 1),
            "role": self.role,
        }


class HealthChecks:
    """The checks behind both pages.

    ``clock`` must be the clock ``metrics`` was built with (seconds since the epoch); it dates
    the endpoint's start, from which Telegram is given :data:`TELEGRAM_STALE_SECONDS` for a
    first contact.
    """

    def __init__(
        self,
        database: Database,
        *,
        scheduler_running: Callable[[], bool],
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        database_timeout: float = DATABASE_TIMEOUT_SECONDS,
        role: Role = SINGLE_INSTANCE,
    ) -> None:
        self._database = database
        self._role = role
        self._scheduler_running = scheduler_running
        self._metrics = metrics
        self._clock = clock
        self._database_timeout = database_timeout
        self._started = clock()

    async def database_reachable(self) -> bool:
        """True if the database answers ``SELECT 1`` within the timeout.

        Runs outside any transaction, so on SQLite it takes no write lock and does not queue
        behind a writer (``Database.run_outside_transaction``).
        """
        try:
            async with asyncio.timeout(self._database_timeout):
                row = await self._database.run_outside_transaction("SELECT 1")
        except (StorageError, TimeoutError):
            return False
        return row is not None and row[0] == 1

    def telegram_fine(self) -> bool:
        age = self._metrics.seconds_since_telegram()
        if age is None:
            age = self._clock() - self._started
        return age <= TELEGRAM_STALE_SECONDS

    async def report(self) -> HealthReport:
        return HealthReport(
            database=await self.database_reachable(),
            scheduler=self._scheduler_running(),
            telegram=self.telegram_fine(),
            telegram_seconds_since_contact=self._metrics.seconds_since_telegram(),
            role="leader" if self._role.leading() else "standby",
        )

    async def refresh_pending(self) -> None:
        """Count the pending deliveries now; recorded as NaN if the database does not answer."""
        count: int | None
        try:
            async with (
                asyncio.timeout(self._database_timeout),
                self._database.sessionmaker() as session,
            ):
                count = await pending_count(session)
        except (SQLAlchemyError, OSError, TimeoutError):
            count = None
        self._metrics.set_deliveries_pending(count)


def _loopback_host(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _LoopbackHandler(RequestHandler):
    """Refuses a request whose ``Host`` is not a loopback name (DNS rebinding from a browser)."""

    def prepare(self) -> None:
        if not _loopback_host(self.request.host_name):
            raise HTTPError(403)
        self.set_header("Cache-Control", "no-store")


class _HealthzHandler(_LoopbackHandler):
    def initialize(self, checks: HealthChecks) -> None:
        self._checks = checks

    async def get(self) -> None:
        report = await self._checks.report()
        self.set_status(200 if report.healthy else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(report.as_json()))


class _MetricsHandler(_LoopbackHandler):
    def initialize(self, checks: HealthChecks, metrics: Metrics) -> None:
        self._checks = checks
        self._metrics = metrics

    async def get(self) -> None:
        await self._checks.refresh_pending()
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(self._metrics.exposition())


def _no_access_log(_handler: RequestHandler) -> None:
    # A scrape every few seconds would fill the log with nothing useful; failures show in
    # /healthz itself and in the bot's own events.
    return None


class HealthServer:
    """``/healthz`` and ``/metrics`` over HTTP on a loopback address of the running loop."""

    def __init__(self, checks: HealthChecks, metrics: Metrics) -> None:
        self._application = WebApplication(
            [
                (r"/healthz", _HealthzHandler, {"checks": checks}),
                (r"/metrics", _MetricsHandler, {"checks": checks, "metrics": metrics}),
            ],
            log_function=_no_access_log,
        )
        self._server: HTTPServer | None = None
        self._port: int | None = None

    @property
    def port(self) -> int | None:
        """The port listened on (the one chosen, when started with port 0), or None."""
        return self._port

    def start(self, listen: str, port: int) -> None:
        """Listen on ``listen:port``; raises :class:`HealthEndpointError` if that cannot be.

        A non-loopback ``listen`` is refused here as well as in the configuration: whoever
        builds a server by hand must not be able to expose it.
        """
        try:
            loopback = ipaddress.ip_address(listen).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise HealthEndpointError(
                "the health endpoint listens on a loopback address only (127.0.0.1 or ::1)"
            )
        if self._server is not None:
            raise HealthEndpointError("the health endpoint is already running")
        try:
            sockets = bind_sockets(port, listen)
        except OSError as exc:
            raise HealthEndpointError(
                f"the health endpoint cannot listen on {listen} port {port}",
                hint="another program may use that port: change [health] port",
            ) from exc
        self._server = HTTPServer(self._application)
        self._server.add_sockets(sockets)
        self._port = sockets[0].getsockname()[1]
        event(_log, "health.listening", port=self._port)

    async def stop(self) -> None:
        """Stop listening and close open connections; does nothing if not running."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        await server.close_all_connections()
        self._port = None


def _count_update(metrics: Metrics) -> Callable[[Update, object], Coroutine[Any, Any, None]]:
    async def count(_update: Update, _context: object) -> None:
        metrics.update_handled()

    return count


def _probe_telegram(metrics: Metrics) -> Callable[[AnyContext], Coroutine[Any, Any, None]]:
    async def probe(context: AnyContext) -> None:
        try:
            await context.bot.get_me()
        except TelegramError:
            event(_log, "health.telegram_unreachable", logging.WARNING)
            return
        metrics.telegram_contact()

    return probe


def _chain(first: _Hook | None, second: _Hook | None) -> _Hook:
    """One lifecycle hook running ``first`` then ``second`` (PTB holds one hook of each kind)."""

    async def both(application: AnyApplication) -> None:
        for hook in (first, second):
            if hook is not None:
                await hook(application)

    return both


def register_health(
    application: AnyApplication,
    runtime: Runtime,
    *,
    metrics: Metrics | None = None,
    role: Role = SINGLE_INSTANCE,
) -> HealthServer | None:
    """With ``[health] enabled``, serve the endpoint for the application's lifetime.

    Adds the update counter (:data:`UPDATE_COUNTER_GROUP`) and the Telegram probe job, and chains
    the server's start after the application's existing ``post_init`` and its stop before the
    existing ``post_shutdown``. Returns the server (for its :attr:`~HealthServer.port`), or None
    when the endpoint is disabled, in which case nothing is added. ``metrics`` defaults to the
    process's.
    """
    settings = runtime.config.health
    if not settings.enabled:
        return None
    metrics = metrics or process_metrics()
    job_queue = application.job_queue
    if job_queue is None:  # only without PTB's job-queue extra, which Sanad depends on
        raise HealthEndpointError("the health endpoint needs the scheduler")
    checks = HealthChecks(
        runtime.database,
        scheduler_running=lambda: bool(job_queue.scheduler.running),
        metrics=metrics,
        role=role,
    )
    metrics.watch_argon2_queue(lambda: runtime.kdf_pool.queue_depth)
    server = HealthServer(checks, metrics)
    application.add_handler(TypeHandler(Update, _count_update(metrics)), group=UPDATE_COUNTER_GROUP)
    job_queue.run_repeating(
        _probe_telegram(metrics), interval=TELEGRAM_PROBE_SECONDS, name=PROBE_JOB_NAME
    )

    async def start(_application: AnyApplication) -> None:
        server.start(settings.listen, settings.port)
        # post_init runs after Application.initialize(), which has just asked Telegram getMe
        # and raises if that failed: this is the first contact.
        metrics.telegram_contact()

    async def stop(_application: AnyApplication) -> None:
        await server.stop()

    application.post_init = _chain(application.post_init, start)
    application.post_shutdown = _chain(stop, application.post_shutdown)
    return server
