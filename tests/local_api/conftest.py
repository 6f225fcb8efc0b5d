"""Fixtures for the local Bot API server: a running server, a bot, and a polling PTB app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from telegram.ext import Application

from bot.local_api import AdjustableClock, LocalBotApi
from bot.local_api.ptb import application_builder, polling

__all__ = ["application", "polling"]


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
    return application_builder(api, token).build()
