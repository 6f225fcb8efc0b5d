"""Fixtures for the local Bot API server: a running server, a bot, and a polling PTB app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram.ext import Application, ApplicationBuilder

from bot.local_api import AdjustableClock, LocalBotApi


@pytest.fixture
def clock() -> AdjustableClock:
    """The server's clock; tests move it forward instead of waiting."""
    return AdjustableClock()


@pytest.fixture
async def api(clock: AdjustableClock) -> AsyncIterator[LocalBotApi]:
    """A running local Bot API server on an ephemeral loopback port."""
    async with LocalBotApi.running(clock=clock) as server:
        yield server


@pytest.fixture
def token(api: LocalBotApi) -> str:
    """The token of the one bot registered on ``api``."""
    return api.add_bot()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client for raw Bot API calls (no proxy from the environment)."""
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


def application(api: LocalBotApi, token: str) -> Application:  # type: ignore[type-arg]
    """A PTB application pointed at ``api`` exactly as Sanad's configuration points it."""
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(api.bot_base_url)
        .base_file_url(api.file_base_url)
        .build()
    )


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Initialise, start and poll ``app``; always stop it cleanly."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
