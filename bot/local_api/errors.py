"""Errors of the local Bot API server: the answers Telegram gives, and misuse by a test.

:class:`ApiError` is not a failure of the server: it is an answer, serialised exactly as the Bot
API does (``{"ok": false, "error_code": ..., "description": ...}``), so python-telegram-bot turns
it into the same exception it would raise against Telegram.
"""

from __future__ import annotations

from typing import Any

from bot.errors import SanadError


class ApiError(Exception):
    """A Bot API error answer: HTTP status, Telegram's wording, and optional ``parameters``."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        """The response body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(what: str) -> ApiError:
    """``400 Bad Request: <what>``, the shape of most of Telegram's refusals."""
    return ApiError(400, f"Bad Request: {what}")


def forbidden(what: str) -> ApiError:
    """``403 Forbidden: <what>``, e.g. when the user has blocked the bot."""
    return ApiError(403, f"Forbidden: {what}")


def too_many_requests(retry_after: int) -> ApiError:
    """``429`` with ``parameters.retry_after``, which PTB raises as ``RetryAfter``."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


UNAUTHORIZED = ApiError(401, "Unauthorized")
NOT_FOUND = ApiError(404, "Not Found")


class LocalApiUsageError(SanadError):
    """A test asked the simulated user to do something a Telegram client cannot do."""
