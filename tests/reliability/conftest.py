"""The real bot in this process: ``build_application`` as ``sanad run`` builds it, polling the
local Bot API server over HTTP, on a SQLite file, with a certified bot key.

In-process so a test can watch what the process does (audit hooks, memory, the database file)
and stop or restart the application between steps; everything the bot does goes through the
same code as in a deployment.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from telegram.ext import Application

from bot.app import build_application
from bot.config import load_config
from bot.config.token import BotToken
from bot.runtime import Runtime
from tests.support.deployment import LIMITS, Deployment, make_deployment

App = Application[Any, Any, Any, Any, Any, Any]
__all__ = ["LIMITS", "App", "Deployment", "make_deployment", "polling_bot"]


@contextlib.asynccontextmanager
async def polling_bot(deployment: Deployment, token: str) -> AsyncIterator[App]:
    """The application of ``deployment``, started and polling; stopped as SIGTERM stops it."""
    config = load_config(deployment.config_path)
    runtime = Runtime.open(config)
    application = build_application(config, BotToken(token), runtime)
    assert application.post_init is not None
    assert application.post_stop is not None
    assert application.post_shutdown is not None
    try:
        async with application:  # initialize() ... shutdown(), the hooks as run_polling calls them
            await application.post_init(application)
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                yield application
            finally:
                await application.updater.stop()
                await application.stop()
                await application.post_stop(application)
    finally:
        await application.post_shutdown(application)
