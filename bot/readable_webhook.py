"""Webhook mode that survives a malformed request: an unreadable update is answered, counted,
and never quoted.

What python-telegram-bot's own webhook handler (22.x, ``TelegramHandler``) does with a request
that carries the right secret:

- a body that is not JSON, JSON cut short, or not UTF-8: the exception escapes and tornado
  answers 500;
- an update PTB's parser refuses (a field of the wrong type, no ``update_id``, a JSON list): a
  CRITICAL log record whose arguments are the whole update, reporters' words included (I1; the
  deployment's redacting filter withholds it from the log file, but the record exists for any
  handler), and 400;
- a message without its chat or date: parsed and handed to the handlers, which fail on it;
- any body up to tornado's limit of 100 MB: read into memory whole, before the secret is looked
  at.

Telegram delivers a bot's updates one at a time and delivers an update answered outside 2xx
again and again: one such update would stall the bot for every reporter (I8), as one bad batch
stalled polling (:mod:`bot.readable_updates`).

:class:`ReadableUpdateHandler` takes PTB's handler's place on PTB's own server. The content type
and the secret (compared in constant time) are checked as soon as the headers arrive, before any
of the body is read, and refused with 403 as before. The body is kept up to
:data:`MAX_UPDATE_BYTES`; the rest is read and dropped. The update is then read with
:func:`bot.readable_updates.parsed_update`, the checks polling makes; an unreadable one is
counted (``updates.unreadable``), answered 200 so that Telegram moves on to the next, and
nothing of it reaches a log. Bodies over tornado's 100 MB are still cut off with the connection:
no Telegram update comes near it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from dataclasses import dataclass
from http import HTTPStatus

import telegram.ext._updater as ptb_updater
from telegram import Bot
from telegram.ext import ExtBot
from telegram.ext._utils.webhookhandler import TelegramHandler, WebhookAppClass
from tornado.web import Application, stream_request_body

from bot.logs import event, get_logger
from bot.readable_updates import parsed_update

_log = get_logger("updates")

#: The largest body read as an update. Telegram's largest (a 4096-character message, each
#: character escaped to six bytes, quoting another with its entities) is well under 100 KiB.
MAX_UPDATE_BYTES = 1024 * 1024
# The name of the header that carries the secret, not a secret.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 # nosec B105


@dataclass
class UnreadableCount:
    """Updates received by this webhook server and skipped as unreadable."""

    total: int = 0


@stream_request_body
class ReadableUpdateHandler(TelegramHandler):
    """One request to the webhook path: see the module docstring."""

    def initialize(  # type: ignore[override]
        self,
        bot: Bot,
        update_queue: asyncio.Queue[object],
        secret_token: str | None,
        unreadable: UnreadableCount,
    ) -> None:
        self.bot = bot
        self.update_queue = update_queue
        self._secret = secret_token
        self._unreadable = unreadable
        self._body = bytearray()
        self._oversized = False

    def prepare(self) -> None:
        """Refuse a request that is not Telegram's before reading its body (403).

        Its body left unread, the connection cannot carry another request: tornado closes it,
        and the answer says so, or a client would send its next request down a closing
        connection.
        """
        if not self._from_telegram():
            self.set_status(HTTPStatus.FORBIDDEN)
            self.set_header("Connection", "close")
            self.finish()

    def _from_telegram(self) -> bool:
        """The content type Telegram sends, and the secret (compared in constant time)."""
        if self.request.headers.get("Content-Type") != "application/json":
            return False
        if self._secret is None:
            return True
        given = self.request.headers.get(SECRET_HEADER, "").encode()
        return hmac.compare_digest(given, self._secret.encode())

    def data_received(self, chunk: bytes) -> None:
        """Keep the body up to :data:`MAX_UPDATE_BYTES`; past that, keep nothing of it."""
        if self._oversized:
            return
        if len(self._body) + len(chunk) > MAX_UPDATE_BYTES:
            self._oversized = True
            self._body = bytearray()
            return
        self._body += chunk

    async def post(self) -> None:
        """Queue the update for the application, or count it as unreadable; answer 200."""
        update = None if self._oversized else parsed_update(_json(bytes(self._body)), self.bot)
        self.set_status(HTTPStatus.OK)
        if update is None:
            self._unreadable.total += 1
            event(_log, "updates.unreadable", skipped=1, total=self._unreadable.total)
            return
        if isinstance(self.bot, ExtBot):
            self.bot.insert_callback_data(update)
        await self.update_queue.put(update)


def _json(body: bytes) -> object:
    """The body's JSON, or None when it is not UTF-8 JSON (nested too deep included)."""
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


class ReadableWebhookApp(WebhookAppClass):
    """PTB's webhook application, with :class:`ReadableUpdateHandler` on the webhook path."""

    def __init__(
        self,
        webhook_path: str,
        bot: Bot,
        update_queue: asyncio.Queue[object],
        secret_token: str | None = None,
    ) -> None:
        self.unreadable = UnreadableCount()
        self.shared_objects = {
            "bot": bot,
            "update_queue": update_queue,
            "secret_token": secret_token,
            "unreadable": self.unreadable,
        }
        Application.__init__(
            self, [(rf"{webhook_path}/?", ReadableUpdateHandler, self.shared_objects)]
        )


def use_readable_webhook() -> None:
    """Make PTB's webhook server, wherever it is started, use :class:`ReadableWebhookApp`.

    PTB offers no option for the handler: ``Updater.start_webhook`` builds the class named
    ``WebhookAppClass`` in ``telegram.ext._updater`` when the webhook starts, so that name is
    pointed here, for this process. ``tests/reliability/test_malformed_traffic.py`` fails if a
    PTB upgrade stops reading it.
    """
    ptb_updater.WebhookAppClass = ReadableWebhookApp  # type: ignore[attr-defined]
