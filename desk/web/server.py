"""The desk's tornado application and server, on 127.0.0.1 at a port the system picks.

The application is every module of :data:`PAGE_MODULES` registered into one
:class:`~desk.web.registry.Registry`, plus the page's own two assets (package data: nothing is
fetched from the network). :func:`serve` binds loopback only — never another address — and
returns the addresses that carry the session token.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass, field
from importlib import resources
from types import ModuleType

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, HTTPError

from desk.session import Desk
from desk.web import case, inbox, media, statistics
from desk.web.base import TOKEN_ARGUMENT, DeskContext, DeskHandler
from desk.web.registry import Registry

HOST = "127.0.0.1"
#: The modules whose pages make the desk; each has ``register(registry)``.
PAGE_MODULES: tuple[ModuleType, ...] = (inbox, case, media, statistics)
_ASSETS = {
    "desk.css": "text/css; charset=utf-8",
    "desk.js": "text/javascript; charset=utf-8",
}


class AssetHandler(DeskHandler):
    """The page's stylesheet and script, from the package (reachable while locked)."""

    needs_unlocked = False

    def get(self, name: str) -> None:
        asset = resources.files("desk.web") / "static" / name
        self.set_header("Content-Type", _ASSETS[name])
        self.finish(asset.read_bytes())


class NotFound(DeskHandler):
    """Any other path: after the same checks as every page, 404."""

    def prepare(self) -> None:
        super().prepare()
        if not self._finished:
            raise HTTPError(404)


def desk_application(desk: Desk, port: int, token: str) -> Application:
    """The tornado application of ``desk``, answering as ``127.0.0.1:port``."""
    registry = Registry()
    for module in PAGE_MODULES:
        module.register(registry)
    registry.route(r"/static/(desk\.css|desk\.js)", AssetHandler)
    return Application(
        registry.routes,
        desk_context=DeskContext(desk, registry, token, port),
        template_path=str(resources.files("desk.web") / "templates"),
        default_handler_class=NotFound,
        log_function=lambda handler: None,  # requests name cases: never logged
    )


@dataclass(frozen=True)
class DeskAddress:
    """Where a running desk answers, and the addresses that let a browser in (with the token)."""

    port: int
    token: str = field(repr=False)

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def home(self) -> str:
        """The address to open first: the case list."""
        return self.page("/")

    def page(self, path: str) -> str:
        """``path`` on the desk, with the token that trades for the session cookie."""
        return f"{self.origin}{path}?{TOKEN_ARGUMENT}={self.token}"


def serve(desk: Desk) -> tuple[HTTPServer, DeskAddress]:
    """Start serving ``desk`` on loopback at a port the system picks (call within a running
    event loop), with a new random session token."""
    sockets = bind_sockets(0, HOST, family=socket.AF_INET)
    address = DeskAddress(sockets[0].getsockname()[1], secrets.token_urlsafe(32))
    server = HTTPServer(desk_application(desk, address.port, address.token), xheaders=False)
    server.add_sockets(sockets)
    return server, address
