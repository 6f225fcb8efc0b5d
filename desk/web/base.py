"""What every desk request goes through: loopback Host, session token, idle lock, headers.

- **Host**: only ``127.0.0.1:PORT`` and ``localhost:PORT`` are answered; anything else — a DNS
  rebinding page that resolved its own name to 127.0.0.1 — gets 403 before any other check.
- **Token**: the URL printed at start carries a random token; the first request with it sets a
  ``SameSite=Strict``, HttpOnly cookie and is redirected to the same page without it. A request
  with neither gets 403: another account, or another program, on this computer cannot read the
  desk by guessing its port. Strict cookies are not sent by other sites' pages, and a POST whose
  ``Origin`` is another site is refused too (no cross-site forms).
- **Lock**: after the idle time every page but the unlock page sends the caseworker there.
- **Headers**: a strict Content-Security-Policy (this origin only: no inline script, nothing from
  the network, no frames), no referrer outside the desk, no caching, no MIME sniffing.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from tornado.web import HTTPError, RequestHandler

from desk.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    RIGHT_TO_LEFT,
    Translate,
    translator,
)
from desk.labels import answer_label, value_label
from desk.session import Desk
from desk.web.registry import Registry

_log = logging.getLogger(__name__)
TOKEN_COOKIE = "sanad_desk"  # noqa: S105 - the cookie's name, not a secret # nosec B105
LANGUAGE_COOKIE = "sanad_desk_language"
TOKEN_ARGUMENT = "token"  # noqa: S105 - the argument's name, not a secret # nosec B105
UNLOCK_PATH = "/unlock"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make Chromium send "Origin: null"
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(frozen=True)
class DeskContext:
    """What every handler reads from the application: the desk, its pages, its secret."""

    desk: Desk
    registry: Registry
    token: str
    port: int

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class DeskHandler(RequestHandler):
    """The base of every desk page; subclasses set ``needs_unlocked = False`` to stay reachable
    while locked."""

    needs_unlocked = True

    @property
    def context(self) -> DeskContext:
        context: DeskContext = self.application.settings["desk_context"]
        return context

    @property
    def desk(self) -> Desk:
        return self.context.desk

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def prepare(self) -> None:
        context = self.context
        if self.request.host not in context.hosts:
            raise HTTPError(403, "foreign Host")
        given = self.get_query_argument(TOKEN_ARGUMENT, None)
        if given is not None and hmac.compare_digest(given.encode(), context.token.encode()):
            self.set_cookie(
                TOKEN_COOKIE, context.token, httponly=True, samesite="Strict", path="/"
            )
            self.redirect(self.request.path)
            return
        cookie = self.get_cookie(TOKEN_COOKIE) or ""
        if not hmac.compare_digest(cookie.encode(), context.token.encode()):
            raise HTTPError(403, "no session token")
        origin = self.request.headers.get("Origin")
        if self.request.method == "POST" and origin not in (None, context.origin):
            raise HTTPError(403, "cross-origin request")
        language = self.get_query_argument("lang", None)
        if language in LANGUAGES:
            self.set_cookie(LANGUAGE_COOKIE, language, samesite="Strict", path="/")
            self.redirect(self.request.path)
            return
        self.desk.touch()
        if self.needs_unlocked and self.desk.locked:
            self.redirect(UNLOCK_PATH)

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Tornado's own line names the request's path, which names a case: the desk logs the
        # kind of failure only, and nothing for a refusal it answered on purpose.
        if not isinstance(value, HTTPError):
            _log.error("desk.request_failed %s", typ.__name__ if typ else "unknown")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Never a traceback, never what was asked: the status line says enough.
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")

    @property
    def language(self) -> str:
        chosen = self.get_cookie(LANGUAGE_COOKIE)
        return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE

    @property
    def translate(self) -> Translate:
        return translator(self.language)

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        language, translate = self.language, self.translate
        namespace.update(
            _=translate,
            label=lambda key: answer_label(key, translate),
            value=lambda key, value: value_label(key, value, language, translate),
            language=language,
            direction="rtl" if language in RIGHT_TO_LEFT else "ltr",
            language_names=LANGUAGE_NAMES,
            nav=self.context.registry.nav,
            lock_after=int(self.desk.settings.idle_seconds),
            path=self.request.path,
        )
        return namespace
