"""Pointing python-telegram-bot at the local server, for tests and ``sanad try``.

:func:`application_builder` configures PTB exactly as Sanad's ``telegram.api_base_url`` does
(``{url}/bot`` and ``{url}/file/bot``); :func:`polling` runs an application's polling loop with
short intervals and always stops it cleanly, so a test ends without stray tasks.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from telegram.ext import Application, ApplicationBuilder

from bot.local_api.server import LocalBotApi

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def application_builder(
    api: LocalBotApi, token: str
) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """A PTB builder with ``token`` and the server's bot and file URLs already set."""
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(api.bot_base_url)
        .base_file_url(api.file_base_url)
    )


@contextlib.asynccontextmanager
async def polling(
    application: AnyApplication, *, poll_seconds: int = 1
) -> AsyncIterator[AnyApplication]:
    """Initialise, start and long-poll ``application`` (``poll_seconds`` per poll); stop on exit."""
    updater = application.updater
    if updater is None:
        raise ValueError("the application was built without an updater")
    async with application:
        await application.start()
        await updater.start_polling(poll_interval=0.0, timeout=poll_seconds)
        try:
            yield application
        finally:
            await updater.stop()
            await application.stop()
