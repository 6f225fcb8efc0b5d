"""An upload the Bot API server refuses as too large (HTTP 413) is a refusal, not a network failure.

PTB has an exception class for 400, 401, 403, 404 and 409 and turns every other status into
``NetworkError``, 413 "Request Entity Too Large" included, so the forward job took it for a
network failure and sent the same bytes again after each backoff, refused the same way every
time, until ``delivery.max_attempts``. A 413 comes from Telegram for a file over its 50 MB (the
bot cuts sealed report files into parts that fit: :data:`bot.services.delivery.MAX_DOCUMENT_BYTES`),
from a self-hosted Bot API server with a smaller limit, or from a reverse proxy in front of one
whose body limit is smaller (nginx's default is 1 MB). A retry changes nothing until an
administrator changes that limit.

:class:`BotApiRequest` is the connection PTB uses for every call but ``getUpdates``
(:func:`bot.app.build_application`); it raises :class:`UploadTooLarge` for a 413, which the
forward job records as a failure at its first attempt, counted under that name in
``sanad admin status``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from telegram.error import TelegramError
from telegram.request import BaseRequest, HTTPXRequest, RequestData

# PTB's type for a timeout (a number, None, or "the default") is private; its values pass through.
Timeout = Any


class UploadTooLarge(TelegramError):
    """The Bot API server (or what stands in front of it) refused the request as too large."""

    def __init__(self) -> None:
        super().__init__("the Bot API server refused the upload as too large (HTTP 413)")


class BotApiRequest(HTTPXRequest):
    """PTB's HTTPX connection, with a 413 answered as :class:`UploadTooLarge`."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Timeout = BaseRequest.DEFAULT_NONE,
        write_timeout: Timeout = BaseRequest.DEFAULT_NONE,
        connect_timeout: Timeout = BaseRequest.DEFAULT_NONE,
        pool_timeout: Timeout = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            raise UploadTooLarge
        return code, payload
