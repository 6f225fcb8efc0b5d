"""``sanad local-api``: the built-in Bot API server in place of Telegram, for a real deployment.

``sanad try`` runs a throw-away bot; this runs only the stand-in for Telegram, at the address the
deployment's ``telegram.api_base_url`` names, with the deployment's own bot token registered, and
the same two-window page (:mod:`bot.try_mode.page`) to act as a reporter and a caseworker. The
bot is the admin's ``sanad run`` with the same configuration: its database, keys, certificate and
limits, so an admin sees the whole deployment work end to end — enrolment, reports with files
and voice notes, delivery of sealed files, replies — before a real token is ever used.

The page holds no key: sealed files are downloaded and opened with ``sanad caseworker open``,
as a caseworker does. Chats and files live in this process's memory only and are gone when it
stops (what the bot stored stays in its database). Everything listens on loopback addresses only.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Config, load_bot_token
from bot.config.model import TELEGRAM_API
from bot.errors import SanadError
from bot.lifecycle import stop_on_signals
from bot.local_api import LocalBotApi
from bot.logs import configure_logging, event, get_logger
from bot.try_mode.page import serving_page
from bot.try_mode.sandbox import loopback_host, open_chats

_log = get_logger("local_api")

_EXAMPLE_URL = "http://127.0.0.1:8081"


@dataclass(frozen=True)
class ApiAddress:
    """Where the stand-in listens: the loopback host and port of ``telegram.api_base_url``."""

    host: str
    port: int


def api_address(config: Config) -> ApiAddress:
    """The address ``telegram.api_base_url`` names, if the server can take it; else
    :class:`SanadError` saying what to set.

    The bot calls ``{api_base_url}/bot{token}/METHOD``: a URL with a path, or one on another
    machine, could not be served by a server listening here.
    """
    url = config.telegram.api_base_url
    hint = (f'set telegram.api_base_url = "{_EXAMPLE_URL}" in the configuration, and run '
            "sanad run with the same file")
    if url == TELEGRAM_API:
        raise SanadError("telegram.api_base_url is Telegram's: sanad local-api stands in for a "
                         "Bot API server on this computer", hint=hint)
    parts = urllib.parse.urlsplit(url)
    try:
        host = loopback_host(parts.hostname or "")
    except SanadError:
        raise SanadError("telegram.api_base_url must name this computer (a loopback address) "
                         "for sanad local-api", hint=hint) from None
    if parts.scheme != "http" or parts.port is None or parts.path not in ("", "/"):
        raise SanadError("telegram.api_base_url must be http://HOST:PORT, with no path, for "
                         "sanad local-api", hint=hint)
    return ApiAddress(host, parts.port)


async def serve_local_api(
    config: Config,
    page_host: str,
    page_port: int,
    announce: Callable[[str, str], None],
    stop: asyncio.Event,
    reporter_language: str,
) -> None:
    """Serve the Bot API and the page until ``stop`` is set; see :func:`run_local_api`."""
    address = api_address(config)
    token = load_bot_token(config)
    api = LocalBotApi(host=address.host, port=address.port)
    api.add_bot(token.reveal(), username="sanad_local_bot")
    try:
        await api.start()
    except OSError as exc:
        raise SanadError(
            f"cannot listen on {address.host} port {address.port} "
            f"({exc.strerror or 'unavailable'}), the port of telegram.api_base_url",
            hint="stop what uses that port, or choose another in telegram.api_base_url",
        ) from None
    try:
        async with serving_page(open_chats(api, reporter_language), page_host, page_port) as url:
            event(_log, "local_api.ready")
            announce(api.url, url)
            await stop.wait()
    finally:
        await api.stop()


def run_local_api(
    config: Config,
    page_host: str,
    page_port: int,
    announce: Callable[[str, str], None],
    *,
    reporter_language: str = "ar",
) -> None:
    """``sanad local-api``: serve until SIGINT/SIGTERM.

    ``announce(api_url, page_url)`` is called once both listen. Raises :class:`SanadError` for
    an ``api_base_url`` this server cannot take, a page host that is not a loopback address, or
    a port in use, and :class:`bot.config.ConfigError` when the token cannot be read.
    """
    host = loopback_host(page_host)
    api_address(config)  # before anything starts: a wrong URL is one line, not a half start
    configure_logging(config.logging.level, json_lines=config.logging.json_lines)

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await serve_local_api(config, host, page_port, announce, stop, reporter_language)

    asyncio.run(main())
