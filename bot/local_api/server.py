"""The local Bot API server: a faithful stand-in for api.telegram.org on a loopback port.

It serves ``/bot{token}/{method}`` (GET or POST; query string, JSON, form or multipart, as
python-telegram-bot sends them) and ``/file/bot{token}/{file_path}``, plus the ``/_local``
routes of :mod:`bot.local_api.local_routes`. It is Sanad's one test double (DESIGN.md §7) and
the engine of ``sanad try``; it never binds anything but a loopback address.

Use it in a test::

    async with LocalBotApi.running() as api:
        token = api.add_bot()
        app = (ApplicationBuilder().token(token).base_url(api.bot_base_url)
               .base_file_url(api.file_base_url).build())
        chat = api.open_chat(1001, "Amal", language_code="ar")
        await chat.send_command("start")
        reply = await chat.wait_for(lambda m: m.text is not None)

or, for a bot in another process or synchronous code, ``with LocalBotApi.in_thread() as
server:`` (see :class:`LocalBotApiThread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from bot.local_api.clock import Clock, SystemClock
from bot.local_api.errors import (
    NOT_FOUND,
    UNAUTHORIZED,
    ApiError,
    LocalApiUsageError,
    forbidden,
    too_many_requests,
)
from bot.local_api.faults import SpoilKind, TrafficFaults, answer_spoilt
from bot.local_api.limits import FaultInjector, FaultKind, RateLimiter, RateLimits
from bot.local_api.local_routes import local_routes
from bot.local_api.methods import MAX_UPLOAD_BYTES, METHODS, SENDING_METHODS, Call
from bot.local_api.params import Params
from bot.local_api.state import BotState, Chat, UserProfile, World
from bot.local_api.user import UserChat
from bot.local_api.web import JsonHandler, NotFoundHandler, log_request
from bot.local_api.webhook import WebhookDelivery

T = TypeVar("T")

# Above Telegram's 50 MB upload limit, so an oversized upload gets the API's 413 answer.
MAX_REQUEST_BYTES = 60 * 1024 * 1024


class LocalBotApi:
    """A Bot API server with its simulated users, in memory, on the running event loop.

    Register bots with :meth:`add_bot`, start with :meth:`start` (or :meth:`running`), point
    PTB at :attr:`bot_base_url` and :attr:`file_base_url`, and act as users through
    :meth:`open_chat`. ``faults`` and ``rate_limits`` shape how the server refuses calls;
    ``clock`` is the seam for time (e.g. an :class:`~bot.local_api.clock.AdjustableClock`).
    ``max_upload_bytes`` is Telegram's 50 MB upload limit unless a test lowers it, so files
    over it can be made small.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        seed: int = 0,
        rate_limits: RateLimits | None = None,
        webhook_retry_delay: float = 0.05,
        webhook_max_retry_delay: float = 1.0,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            # Reports pass through this server in tests and demos: never expose it.
            raise ValueError("the local Bot API server binds loopback addresses only")
        self._host = host
        self._requested_port = port
        self.clock: Clock = clock or SystemClock()
        if not 0 < max_upload_bytes <= MAX_UPLOAD_BYTES:
            raise ValueError("the upload limit is positive and at most Telegram's")
        self.world = World(self.clock, seed, max_upload_bytes=max_upload_bytes)
        self.faults = FaultInjector(seed)
        self.traffic = TrafficFaults(self.world)  # malformed answers and updates (faults.py)
        self._limiter = RateLimiter(rate_limits or RateLimits(), self.clock)
        self._webhooks = WebhookDelivery(
            self.world, retry_delay=webhook_retry_delay,
            max_retry_delay=webhook_max_retry_delay, timeout=10.0,
        )
        self._server: HTTPServer | None = None
        self._port: int | None = None
        self._hanging: set[asyncio.Event] = set()

    # --- configuration ---

    @property
    def rate_limits(self) -> RateLimits:
        """The sending limits in force (off by default)."""
        return self._limiter.limits

    @rate_limits.setter
    def rate_limits(self, limits: RateLimits) -> None:
        self._limiter = RateLimiter(limits, self.clock)

    def add_bot(
        self, token: str | None = None, *, username: str = "sanad_test_bot",
        first_name: str = "Sanad",
    ) -> str:
        """Register a bot and return its token (``"<bot id>:<secret>"``, made up if not given).

        Raises ``ValueError`` for a token without the ``<digits>:`` prefix Telegram uses, or one
        already registered.
        """
        if token is None:
            token = f"{100000 + len(self.world.bots)}:{self.world.random_id(26)}"
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("a bot token looks like <bot id>:<secret>")
        if token in self.world.bots:
            raise ValueError("this bot is already registered")
        self.world.bots[token] = BotState(token, int(bot_id), username, first_name)
        return token

    # --- acting as users ---

    def open_chat(
        self,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
        bot: str | None = None,
    ) -> UserChat:
        """The private chat of this user with ``bot`` (a username; optional with one bot).

        The chat is created if needed; the bot may write only after the user has sent
        something, as in Telegram.
        """
        state = self._bot(bot)
        chat = state.chats.get(user_id)
        if chat is None:
            profile = UserProfile(user_id, first_name, last_name, username, language_code)
            chat = state.chats[user_id] = Chat(state, profile)
        return UserChat(self.world, chat)

    def chat(self, chat_id: int, *, bot: str | None = None) -> UserChat:
        """An existing chat; raises ``LocalApiUsageError`` if there is none."""
        chat = self._bot(bot).chats.get(chat_id)
        if chat is None:
            raise LocalApiUsageError("there is no such chat")
        return UserChat(self.world, chat)

    def chats(self, *, bot: str | None = None) -> list[UserChat]:
        """Every chat of ``bot`` (every bot when there are several and none is named)."""
        if bot is None and len(self.world.bots) != 1:
            return [UserChat(self.world, chat) for chat in self.world.chats()]
        return [UserChat(self.world, chat) for chat in self._bot(bot).chats.values()]

    def pending_updates(self, token: str) -> list[dict[str, Any]]:
        """The updates the bot has not confirmed yet (for assertions), oldest first."""
        return [dict(update) for update in self.world.bots[token].pending]

    def _bot(self, username: str | None) -> BotState:
        bots = list(self.world.bots.values())
        if username is None:
            if len(bots) != 1:
                raise LocalApiUsageError("name the bot: there is not exactly one")
            return bots[0]
        for state in bots:
            if state.username == username:
                return state
        raise LocalApiUsageError("there is no such bot")

    # --- serving ---

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the root to use as ``telegram.api_base_url``."""
        if self._port is None:
            raise LocalApiUsageError("the server is not running")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def bot_base_url(self) -> str:
        """What PTB's ``ApplicationBuilder.base_url`` takes: ``{url}/bot``."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        """What PTB's ``ApplicationBuilder.base_file_url`` takes: ``{url}/file/bot``."""
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        """Listen on the loopback port (0 picks a free one) of the running event loop."""
        if self._server is not None:
            raise LocalApiUsageError("the server is already running")
        target = {"api": self}
        application = Application(
            [
                (r"/bot([^/]+)/([^/]*)", _BotApiHandler, target),
                (r"/file/bot([^/]+)/(.+)", _FileDownloadHandler, target),
                *local_routes(self),
            ],
            default_handler_class=NotFoundHandler,
            log_function=log_request,
        )
        sockets = bind_sockets(self._requested_port, self._host, family=socket.AF_UNSPEC)
        self._port = sockets[0].getsockname()[1]
        self._server = HTTPServer(application, max_body_size=MAX_REQUEST_BYTES)
        self._server.add_sockets(sockets)
        for state in self.world.bots.values():
            if state.webhook is not None:
                self._webhooks.start(state)

    async def stop(self) -> None:
        """Stop listening, end webhook delivery, hung calls and open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        await self._webhooks.close()
        for hang in self._hanging:
            hang.set()
        await server.close_all_connections()
        self._port = None

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, **options: Any) -> AsyncIterator[LocalBotApi]:
        """``async with LocalBotApi.running(...) as api:`` — started, and always stopped."""
        api = cls(**options)
        await api.start()
        try:
            yield api
        finally:
            await api.stop()

    @classmethod
    def in_thread(cls, **options: Any) -> LocalBotApiThread:
        """A server to run on its own loop in a background thread (a context manager)."""
        return LocalBotApiThread(cls(**options))

    # --- used by the handlers ---

    async def serve(self, call: Call, method: str, hang: asyncio.Event) -> Any:
        """Run one Bot API call through faults, limits and the method; returns its result."""
        fault = self.faults.next_fault(method)
        if fault is not None:
            if fault.kind is FaultKind.RETRY_AFTER:
                raise too_many_requests(fault.retry_after)
            if fault.kind is FaultKind.SERVER_ERROR:
                raise ApiError(500, "Internal Server Error")
            if fault.kind is FaultKind.FORBIDDEN:
                raise forbidden("bot was blocked by the user")
            if fault.after_effect:
                await METHODS[method.lower()](call)
            self._hanging.add(hang)
            try:
                await hang.wait()  # until the client gives up or the server stops
            finally:
                self._hanging.discard(hang)
            return None
        if method.lower() in SENDING_METHODS:
            chat_id = None
            with contextlib.suppress(ApiError):  # a bad chat_id is the method's to report
                chat_id = call.params.integer("chat_id")
            if chat_id is not None:
                self._limiter.acquire(call.bot.id, chat_id)
        return await METHODS[method.lower()](call)

    @property
    def webhooks(self) -> WebhookDelivery:
        """The webhook delivery tasks (methods start and stop them)."""
        return self._webhooks


class _BotApiHandler(JsonHandler):
    """``/bot{token}/{method}``: authenticate, parse, run, answer ``{"ok": ..., ...}``."""

    def initialize(self, api: LocalBotApi) -> None:
        self.api = api
        self.call: Call | None = None
        self.hang = asyncio.Event()

    async def get(self, token: str, method: str) -> None:
        """Serve a call; GET and POST are the same to the Bot API."""
        bot = self.api.world.bots.get(token)
        spoil = self.api.traffic.next_spoil(method) if bot is not None else None
        if bot is not None and spoil is not None and spoil.kind is SpoilKind.RESET:
            await answer_spoilt(self, spoil, None, bot)  # before the method runs
            return
        try:
            if bot is None:
                raise UNAUTHORIZED
            if method.lower() not in METHODS:
                raise NOT_FOUND
            self.call = Call(self.api.world, bot, Params.from_request(self.request),
                             self.api.webhooks)
            result = await self.api.serve(self.call, method, self.hang)
        except ApiError as error:
            self.send_api_error(error)
            return
        if self.hang.is_set():
            return  # a hung call never answers
        if spoil is not None:
            await answer_spoilt(self, spoil, result, bot)
            return
        self.send_json(200, {"ok": True, "result": result})

    post = get

    def on_connection_close(self) -> None:
        """The client gave up: end a long poll or a hang that waits for it."""
        self.hang.set()
        if self.call is not None:
            self.call.abandoned = True
            self.call.bot.updates_changed.notify()


class _FileDownloadHandler(JsonHandler):
    """``/file/bot{token}/{file_path}``: the bytes of a file, for an hour after getFile."""

    def initialize(self, api: LocalBotApi) -> None:
        self.api = api

    def get(self, token: str, path: str) -> None:
        """Send the file, or 401/404 as Telegram does."""
        bot = self.api.world.bots.get(token)
        if bot is None:
            self.send_api_error(UNAUTHORIZED)
            return
        entry = bot.file_paths.get(path)
        if entry is None or entry[1] < self.api.clock.now():
            self.send_api_error(NOT_FOUND)
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Cache-Control", "no-store")
        self.finish(entry[0].content)


class LocalBotApiThread:
    """A :class:`LocalBotApi` on its own event loop in a daemon thread.

    For tests that drive a bot in a subprocess (``sanad run``) or from synchronous code::

        server = LocalBotApi.in_thread()
        token = server.api.add_bot()          # before entering: nothing runs yet
        with server:
            run_bot_subprocess(server.api.url, token)
            chat = server.call(lambda api: api.open_chat(1001, "Amal"))
            server.run(lambda: chat.send_text("hello"))

    State belongs to the server's loop: once entered, touch it only through :meth:`call` and
    :meth:`run`, which execute on that loop and return the result here.
    """

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LocalBotApiThread:
        loop = self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="local-bot-api",
                                        daemon=True)
        self._thread.start()
        self.run(self.api.start)
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self.run(self.api.stop)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            self._loop = self._thread = None

    def run(self, action: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Await ``action()`` on the server's loop and return its result."""
        async def wrapper() -> T:
            return await action()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._running_loop()).result(timeout)

    def call(self, action: Callable[[LocalBotApi], T], timeout: float = 30.0) -> T:
        """Call ``action(api)`` on the server's loop and return its result."""
        future: Future[T] = Future()

        def invoke() -> None:
            try:
                future.set_result(action(self.api))
            except BaseException as exc:  # handed to the calling thread, which raises it
                future.set_exception(exc)

        self._running_loop().call_soon_threadsafe(invoke)
        return future.result(timeout)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise LocalApiUsageError("the server thread is not running")
        return self._loop
