"""The HTTP plumbing every route of the local server shares: loopback only, JSON, quiet logs.

The server binds to a loopback address only, and in addition refuses any request whose
``Host`` is not a loopback name, so a web page in the user's browser cannot reach the
``/_local`` routes through DNS rebinding. Nothing is logged that could carry a bot token (it is
in every Bot API URL) or content (request bodies): tornado's request log and its exception log
are replaced here.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tornado.httputil import split_host_and_port
from tornado.web import RequestHandler

from bot.local_api.errors import ApiError

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def log_request(handler: RequestHandler) -> None:
    """Tornado's ``log_function``: the status code only — URLs hold bot tokens."""
    logger.debug("local_api.request status=%d", handler.get_status())


class JsonHandler(RequestHandler):
    """A handler that answers in JSON and only to requests addressed to a loopback name."""

    def prepare(self) -> None:
        """Refuse requests whose Host header is not a loopback name (DNS rebinding)."""
        host, _ = split_host_and_port(self.request.host.lower())
        if host not in LOOPBACK_NAMES:
            self.send_json(403, {"ok": False, "error_code": 403, "description": "Forbidden"})

    def send_json(self, status: int, body: Any) -> None:
        """Finish the request with ``body`` as JSON and HTTP ``status``."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body, ensure_ascii=False))

    def send_api_error(self, error: ApiError) -> None:
        """Finish the request with a Bot API error answer."""
        self.send_json(error.status, error.to_json())

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors tornado raises itself (e.g. 405) get the Bot API's JSON shape too."""
        reason = self._reason if status_code != 500 else "Internal Server Error"
        self.finish_json_error(status_code, reason)

    def finish_json_error(self, status_code: int, reason: str) -> None:
        """Write ``{"ok": false, ...}`` without touching a response already finished."""
        if not self._finished:
            self.send_json(status_code, {"ok": False, "error_code": status_code,
                                         "description": reason})

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Log only the exception's type: tornado's default prints the URL and the request."""
        logger.error("local_api.handler_failed error=%s",
                     getattr(typ, "__name__", "unknown"))


class NotFoundHandler(JsonHandler):
    """Every path the server does not serve: Telegram's ``404 Not Found``."""

    def prepare(self) -> None:
        """Answer 404 whatever the method."""
        super().prepare()
        if not self._finished:
            self.send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
