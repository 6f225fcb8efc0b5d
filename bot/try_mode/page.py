"""The web page of ``sanad try`` and ``sanad local-api``: a reporter's and a caseworker's chat
side by side, on loopback only.

Routes, all on one origin so the page needs no cross-origin access:

- ``GET /``, ``/page.css``, ``/page.js``, ``/sample-voice.ogg`` — the page and the voice note it
  offers when the browser cannot record one (package data; no build step, nothing loaded from
  the network: the Content-Security-Policy allows this origin only);
- the local Bot API server's ``/_local`` routes (:mod:`bot.local_api.local_routes`), mounted here
  as well: the page reads each chat's snapshot, long-polls its events, sends text, files and
  voice notes and presses buttons as the two simulated users, and downloads files;
- ``GET /_try/setup`` — which chat is whose, the mode (``try`` or ``local-api``), whether the
  page can open files, and the largest file the server takes from a user;
- ``POST /_try/open`` ``{"message_id"}`` (``sanad try`` only) — the caseworker's "computer": the
  sealed file in that message of the caseworker's chat is saved into the sandbox folder and
  opened with the real ``sanad caseworker open``, as a subprocess, with the demo key file and its
  passphrase in ``SANAD_PASSPHRASE``; the answer is the command's exit status and output, and the
  address of the case in the caseworker's desk (``sanad desk``, started on the first open with
  the demo key on another loopback port), so a newcomer sees the real thing. Under
  ``sanad local-api`` the page holds no key: the caseworker downloads the file and opens it.

Every handler refuses a request whose ``Host`` is not a loopback name (DNS rebinding), and POST
bodies must be ``application/json``, which another site's page cannot send here without a CORS
preflight that is never granted. The page shows reports in clear: it is a demonstration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Final

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from bot.cli.passphrase import PASSPHRASE_ENV
from bot.errors import SanadError
from bot.local_api.errors import LocalApiUsageError
from bot.local_api.local_routes import local_routes
from bot.local_api.web import JsonHandler, NotFoundHandler, log_request
from desk.casebook import Taken
from desk.session import Desk, DeskSettings
from desk.web.server import DeskAddress
from desk.web.server import serve as serve_desk

if TYPE_CHECKING:
    from bot.local_api import LocalBotApi, UserChat
    from bot.try_mode.sandbox import Sandbox

# Opening a file runs Argon2id at the demo cost and decrypts a few MiB at most.
OPEN_TIMEOUT_SECONDS: Final = 60.0
INBOX_DIRNAME: Final = "caseworker-inbox"
OPENED_DIRNAME: Final = "opened"
DESK_DIRNAME: Final = "desk"
# The sandbox's desk never locks: its key is a demonstration key held by this process anyway.
DESK_IDLE_SECONDS: Final = 24 * 3600.0
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}")
# The page is static and same-origin; nothing may be framed, posted elsewhere or loaded from
# the network.
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_ASSETS: Final = {
    "": ("page.html", "text/html; charset=utf-8"),
    "page.css": ("page.css", "text/css; charset=utf-8"),
    "page.js": ("page.js", "text/javascript; charset=utf-8"),
    "sample-voice.ogg": ("sample-voice.ogg", "audio/ogg"),
}


@dataclass(frozen=True)
class PageChats:
    """What the page shows: the Bot API server and the two users' chats on it."""

    api: LocalBotApi
    reporter: UserChat
    reporter_language: str
    caseworker: UserChat


@dataclass(frozen=True)
class OpenResult:
    """What the caseworker's terminal showed: the command line, its exit status and output; and
    where the desk shows the case (None if the desk refused the file)."""

    command: str
    exit_code: int
    output: str
    desk_url: str | None


class CaseworkerComputer:
    """The caseworker's side of the sandbox: saves a delivered file and opens it with the CLI.

    One file is opened at a time, so two clicks never write into the output folder at once.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._lock = asyncio.Lock()
        self._desk: tuple[Desk, HTTPServer, DeskAddress] | None = None

    def _the_desk(self) -> tuple[Desk, DeskAddress]:
        """The caseworker's desk on the demo key, started on first use (in the running loop)."""
        if self._desk is None:
            keys, folder = self._sandbox.keys, self._sandbox.folder
            desk = Desk(DeskSettings(keys.caseworker_key_file, folder / DESK_DIRNAME,
                                     folder / INBOX_DIRNAME, DESK_IDLE_SECONDS))
            desk.unlock(keys.passphrase.reveal())
            self._desk = (desk, *serve_desk(desk))
        return self._desk[0], self._desk[2]

    def close(self) -> None:
        """Stop the desk, if it was started, and make it forget the key."""
        if self._desk is not None:
            desk, server, _ = self._desk
            server.stop()
            desk.lock()
            self._desk = None

    async def open(self, message_id: int) -> OpenResult:
        """Open the sealed file of message ``message_id`` of the caseworker's chat.

        Raises ``LocalApiUsageError`` if that message is gone or carries no document.
        """
        chat = self._sandbox.chats.caseworker
        message = next((m for m in chat.messages() if m.message_id == message_id), None)
        if message is None or message.document is None:
            raise LocalApiUsageError("that message is no longer in the chat or has no file")
        name = message.document.file_name or ""
        if not _SAFE_NAME.fullmatch(name):
            name = "received.sanad"
        folder = self._sandbox.folder
        inbox = folder / INBOX_DIRNAME
        inbox.mkdir(mode=0o700, exist_ok=True)
        path = inbox / f"{message_id}-{name}"
        data = chat.download(message)
        path.write_bytes(data)
        key_file = self._sandbox.keys.caseworker_key_file
        arguments = ["caseworker", "open", str(path), "--key", str(key_file),
                     "--out", str(folder / OPENED_DIRNAME)]
        shown = shlex.join(["sanad", *arguments[:2], f"{INBOX_DIRNAME}/{path.name}",
                            "--key", key_file.name, "--out", OPENED_DIRNAME])
        environment = {**os.environ, PASSPHRASE_ENV: self._sandbox.keys.passphrase.reveal()}
        async with self._lock:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", *arguments, env=environment, cwd=folder,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:
                output, _ = await asyncio.wait_for(process.communicate(), OPEN_TIMEOUT_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
                output = b"sanad: the command did not finish in time\n"
            desk, address = self._the_desk()
            taken = desk.take(path.name, data)
        desk_url = address.page(f"/case/{taken.reference}") if isinstance(taken, Taken) else None
        return OpenResult(
            shown, process.returncode or 0, output.decode("utf-8", "replace"), desk_url
        )


class _AssetHandler(JsonHandler):
    """The page's three files, from the package, with headers that keep it self-contained."""

    def initialize(self, assets: dict[str, tuple[bytes, str]]) -> None:
        self.assets = assets

    def get(self, name: str) -> None:
        asset = self.assets.get(name)
        if asset is None:
            self.send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        content, content_type = asset
        for header, value in _SECURITY_HEADERS.items():
            self.set_header(header, value)
        self.set_header("Content-Type", content_type)
        self.finish(content)


class _SetupHandler(JsonHandler):
    def initialize(self, chats: PageChats, can_open: bool) -> None:
        self.chats = chats
        self.can_open = can_open

    def get(self) -> None:
        self.send_json(200, {
            "mode": "try" if self.can_open else "local-api",
            "can_open": self.can_open,
            "reporter": self.chats.reporter.chat_id,
            "reporter_language": self.chats.reporter_language,
            "caseworker": self.chats.caseworker.chat_id,
            "max_file_bytes": self.chats.api.world.max_upload_bytes,
        })


class _OpenHandler(JsonHandler):
    def initialize(self, computer: CaseworkerComputer) -> None:
        self.computer = computer

    async def post(self) -> None:
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type.lower() != "application/json":
            self.finish_json_error(400, "POST bodies must be application/json")
            return
        try:
            message_id = int(json.loads(self.request.body or b"{}")["message_id"])
        except (ValueError, KeyError, TypeError):
            self.finish_json_error(400, "message_id is required")
            return
        try:
            result = await self.computer.open(message_id)
        except LocalApiUsageError as exc:
            self.finish_json_error(400, str(exc))
            return
        self.send_json(200, {"command": result.command, "exit_code": result.exit_code,
                             "output": result.output, "desk_url": result.desk_url})


def _load_assets() -> dict[str, tuple[bytes, str]]:
    package = resources.files("bot.try_mode")
    return {route: (package.joinpath(file).read_bytes(), content_type)
            for route, (file, content_type) in _ASSETS.items()}


def page_application(chats: PageChats, computer: CaseworkerComputer | None) -> Application:
    """The page's tornado application for ``chats``; the "open" route only with a ``computer``."""
    opening = [(r"/_try/open", _OpenHandler, {"computer": computer})] if computer else []
    return Application(
        [
            (r"/(|page\.css|page\.js|sample-voice\.ogg)", _AssetHandler,
             {"assets": _load_assets()}),
            (r"/_try/setup", _SetupHandler, {"chats": chats, "can_open": computer is not None}),
            *opening,
            *local_routes(chats.api),
        ],
        default_handler_class=NotFoundHandler,
        log_function=log_request,
    )


def page_url(host: str, port: int) -> str:
    """``http://host:port/``, with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


@contextlib.asynccontextmanager
async def serving_page(
    chats: PageChats, host: str, port: int, computer: CaseworkerComputer | None = None
) -> AsyncIterator[str]:
    """Serve the page on ``host:port`` (0: any free port) and yield its URL; stop on exit.

    With a ``computer`` (``sanad try``) the caseworker's files open in the page. Raises
    :class:`SanadError` when the port cannot be used.
    """
    try:
        sockets = bind_sockets(port, host, family=socket.AF_UNSPEC)
    except OSError as exc:
        raise SanadError(
            f"cannot listen on {host} port {port} ({exc.strerror or 'unavailable'})",
            hint="choose another --port, or --port 0 for any free one",
        ) from None
    server = HTTPServer(page_application(chats, computer))
    server.add_sockets(sockets)
    try:
        yield page_url(host, sockets[0].getsockname()[1])
    finally:
        if computer is not None:
            computer.close()
        server.stop()
        await server.close_all_connections()
