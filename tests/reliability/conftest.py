"""The real bot in this process: ``build_application`` as ``sanad run`` builds it, polling the
local Bot API server over HTTP, on a SQLite file, with a certified bot key.

In-process so a test can watch what the process does (audit hooks, memory, the database file)
and stop or restart the application between steps; everything the bot does goes through the
same code as in a deployment.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.app import build_application
from bot.config import load_config
from bot.config.token import BotToken
from bot.local_api import LocalBotApi
from bot.runtime import Runtime
from crypto.keys import OrganisationKeys
from tests.delivery.conftest import certified_state_dir, config_text

App = Application[Any, Any, Any, Any, Any, Any]
# A whole report is about twenty updates from one chat, above the deployment's 20 a minute.
LIMITS = {"max_messages_per_minute": 600, "flood_burst": 600}
DELIVERY = {"batch_interval_seconds": 600.0, "jitter_seconds": 0.0}


@dataclass
class Deployment:
    """One deployment's files: configuration, database, state folder, organisation keys."""

    folder: Path
    org: OrganisationKeys
    config_path: Path

    @property
    def database_path(self) -> Path:
        return self.folder / "sanad.sqlite3"

    def at_rest(self) -> dict[str, bytes]:
        """Every file under the deployment's folder (database, WAL, state) by name."""
        return {str(p): p.read_bytes() for p in self.folder.rglob("*") if p.is_file()}


def make_deployment(api: LocalBotApi, folder: Path, *, limits: dict[str, Any] | None = None,
                    ) -> Deployment:
    """Write a configuration for a bot on ``api`` with its files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    org = OrganisationKeys.generate()
    chosen = LIMITS if limits is None else limits
    config_path = folder / "config.toml"
    config_path.write_text(
        config_text(
            api_url=api.url,
            database_url=f"sqlite+aiosqlite:///{folder / 'sanad.sqlite3'}",
            org=org,
            state_dir=certified_state_dir(folder / "state", org),
            delivery=DELIVERY,
        )
        + "\n[limits]\n"
        + "\n".join(f"{key} = {value!r}" for key, value in chosen.items())
        + "\n"
    )
    return Deployment(folder, org, config_path)


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
