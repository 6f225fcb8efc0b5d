"""Malformed traffic from the Bot API server: the bot reads what it can, skips the rest, counts,
and keeps answering (DESIGN.md §7).

The server is the local one, spoiling its answers on purpose (bot/local_api/faults.py): JSON cut
half-way, connections reset, answers that come late, a getUpdates batch ten times Telegram's
hundred, updates of a type no client sends and messages missing fields Telegram always fills.
After each, a reporter who writes ``/start`` must be answered.

In webhook mode the same updates arrive as requests to PTB's webhook server, delivered by the
local server as Telegram delivers them (one at a time, in order, again and again until the
answer is a 2xx), and bodies no Telegram sends (not JSON, cut short, not UTF-8, far too large)
are posted with the right secret. Each must be answered 2xx, counted, and quoted in no log
record; a request without the secret is still refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import build_application
from bot.config import load_config
from bot.config.token import BotToken
from bot.lifecycle import start_application, stop_application
from bot.local_api import LocalBotApi, UserChat
from bot.local_api.faults import Spoil
from bot.logs import SANAD_LOGGER
from bot.runtime import Runtime, receiving
from crypto.keys import OrganisationKeys
from tests.reliability.conftest import LIMITS, make_deployment, polling_bot
from tests.webhook.configuration import config_toml
from tests.webhook.test_webhook import free_loopback_port

# Shapes a Bot API server could send that the Bot API never does.
MALFORMED_UPDATES: list[dict[str, Any]] = [
    {"brand_new_update_type": {"id": 1, "whatever": [1, 2, 3]}},  # a type from the future
    {},  # nothing but the update id
    {"message": {"message_id": 1}},  # no date, no chat
    {"message": {"message_id": 2, "date": 1700000000, "text": "/start"}},  # no chat
    {"message": {"message_id": 3, "chat": {"id": 7}, "date": "yesterday", "text": "hi"}},
    {"message": {"message_id": 4, "date": 1700000000, "chat": {"type": "private"}}},  # chat id
    {"message": "not an object"},
    {"message": {"message_id": 5, "date": 1700000000, "chat": {"id": 7, "type": "private"},
                 "text": 12345, "entities": "bold"}},
    {"callback_query": {"id": "q1", "data": "forged"}},  # no from, no chat instance
    {"callback_query": {"id": "q2", "from": {"id": 7}, "chat_instance": "c",
                        "data": "x", "message": {"message_id": 9}}},
    {"edited_message": None},
    {"message": {"message_id": 6, "date": 1700000000, "chat": {"id": 7, "type": "private"},
                 "from": {"id": 7, "is_bot": False, "first_name": "x"}, "photo": [{"x": 1}]}},
]


# Words a reporter might have written, inside updates and bodies the bot cannot read.
CANARY = "canary-Khaled-was-here-7f3a"
SECRET_ENV = "SANAD_WEBHOOK_SECRET"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@asynccontextmanager
async def bot_on(api: LocalBotApi, folder: Path) -> AsyncIterator[str]:
    token = api.add_bot()
    async with polling_bot(make_deployment(api, folder), token):
        yield token


async def answered(chat: UserChat) -> None:
    """``/start`` from ``chat`` gets an answer with buttons (the language question)."""
    await chat.send_command("start")
    await chat.wait_for(lambda m: m.from_bot and bool(m.buttons), timeout=20)


async def all_confirmed(api: LocalBotApi, token: str) -> None:
    """Every update queued so far is confirmed by the bot's polling, within a few seconds."""
    for _ in range(100):
        if not api.pending_updates(token):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("updates are left unconfirmed")


def sanad_events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, int]]:
    return [getattr(r, "sanad_counts", {}) for r in caplog.records
            if r.name.startswith(SANAD_LOGGER) and r.getMessage() == name]


def handler_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The events of exceptions that reached the error handler (handlers.report_flow)."""
    return [r.getMessage() for r in caplog.records
            if r.name.startswith(SANAD_LOGGER) and r.getMessage().startswith("handler_error.")]


@pytest.mark.parametrize(
    ("spoils", "unreadable"),
    [
        pytest.param([Spoil.truncated()] * 2, 2, id="truncated-json"),
        pytest.param([Spoil.reset()] * 2, 0, id="connection-reset"),
        pytest.param([Spoil.slow(1.5)], 0, id="slow-answer"),
    ],
)
async def test_spoilt_polling_answers_are_retried_and_the_bot_keeps_answering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, spoils: list[Spoil], unreadable: int
) -> None:
    caplog.set_level(logging.INFO, logger=SANAD_LOGGER)
    async with LocalBotApi.running() as api, bot_on(api, tmp_path):
        chat = api.open_chat(1001, "Amal")
        await answered(chat)
        api.traffic.spoil("getUpdates", *spoils)
        second = api.open_chat(1002, "Badr")
        await second.send_command("start")  # its update rides through the spoilt answers
        for _ in range(300):
            if api.traffic.spoilt == len(spoils):
                break
            await asyncio.sleep(0.05)
        assert api.traffic.spoilt == len(spoils), "the bot stopped polling"
        await second.wait_for(lambda m: m.from_bot and bool(m.buttons), timeout=20)
        await answered(api.open_chat(1003, "Chadi"))
    assert len(sanad_events(caplog, "updates.unreadable_answer")) == unreadable
    assert not handler_errors(caplog)


async def test_unreadable_updates_are_skipped_counted_and_the_rest_is_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SANAD_LOGGER)
    async with LocalBotApi.running() as api, bot_on(api, tmp_path) as token:
        before = api.open_chat(1001, "Amal")
        await before.send_command("start")  # queued ahead of the garbage, in the same batch
        for body in MALFORMED_UPDATES:
            api.traffic.push_raw_update(token, body)
        after = api.open_chat(1002, "Badr")
        await answered(after)
        await before.wait_for(lambda m: m.from_bot and bool(m.buttons))
        await all_confirmed(api, token)  # nothing is fetched again and again
    skipped = sum(counts.get("skipped", 0) for counts in sanad_events(caplog, "updates.unreadable"))
    assert 0 < skipped <= len(MALFORMED_UPDATES)
    assert not handler_errors(caplog)


async def test_a_batch_twice_telegrams_limit_is_answered_in_full(tmp_path: Path) -> None:
    async with LocalBotApi.running() as api, bot_on(api, tmp_path) as token:
        chats = [api.open_chat(2000 + n, f"R{n}") for n in range(200)]
        # Two hundred users write at once; the server hands every update over in one answer.
        api.traffic.spoil("getUpdates", Spoil.oversized_batch())
        for chat in chats:
            await chat.send_command("help")
        for chat in chats:
            await chat.wait_for(lambda m: m.from_bot, timeout=60)
        assert api.traffic.spoilt == 1
        await answered(api.open_chat(1001, "Amal"))
        await all_confirmed(api, token)


@asynccontextmanager
async def webhook_bot_on(
    api: LocalBotApi, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, str, str]]:
    """The bot in this process, receiving by webhook as ``sanad run`` does; yields its token,
    webhook URL and secret."""
    token = api.add_bot()
    secret = secrets.token_hex(32)
    monkeypatch.setenv(SECRET_ENV, secret)
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}/telegram/{secrets.token_hex(8)}"
    config_path = folder / "config.toml"
    config_path.write_text(config_toml(
        api_url=api.url, folder=folder, org=OrganisationKeys.generate(), token_env="UNUSED",
        tables={
            "telegram": {"mode": "webhook", "webhook_url": url, "webhook_listen": "127.0.0.1",
                         "webhook_port": port, "webhook_secret_env": SECRET_ENV},
            "database": {"url": f"sqlite+aiosqlite:///{folder / 'sanad.sqlite3'}"},
            "limits": LIMITS,
        },
    ))
    config = load_config(config_path)
    application = build_application(config, BotToken(token), Runtime.open(config))
    try:
        assert await start_application(application, asyncio.Event())
        await receiving(application, config)()
        yield token, url, secret
    finally:
        await stop_application(application)


def quoting(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    """Loggers whose records hold ``text`` anywhere: message, arguments or exception."""
    found = []
    for record in caplog.records:
        parts = [record.getMessage(), repr(record.args), repr(record.exc_info)]
        if any(text in part for part in parts):
            found.append(record.name)
    return found


def unreadable_total(caplog: pytest.LogCaptureFixture) -> int:
    return sum(counts.get("skipped", 0) for counts in sanad_events(caplog, "updates.unreadable"))


async def test_unreadable_updates_by_webhook_are_answered_counted_and_the_rest_is_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=SANAD_LOGGER)
    async with LocalBotApi.running() as api, webhook_bot_on(api, tmp_path, monkeypatch) as bot:
        token, _url, _secret = bot
        before = api.open_chat(1001, "Amal")
        await answered(before)
        for body in MALFORMED_UPDATES:
            api.traffic.push_raw_update(token, _with_canary(body))
        after = api.open_chat(1002, "Badr")
        # Delivered one at a time, in order: Badr's /start comes after every malformed update.
        await answered(after)
        await all_confirmed(api, token)  # each was answered 2xx, so none is delivered again
        assert api.world.bots[token].webhook.last_error_message is None  # type: ignore[union-attr]
    assert 0 < unreadable_total(caplog) <= len(MALFORMED_UPDATES)
    assert not handler_errors(caplog)
    assert not quoting(caplog, CANARY)


def _with_canary(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with a reporter's words beside it, where a log line quoting it would show them."""
    return {**body, "canary": CANARY}


# Bodies no Telegram sends, each holding a reporter's words.
UNREADABLE_BODIES: list[Any] = [
    pytest.param(f"what happened: {CANARY}".encode(), id="not-json"),
    pytest.param(json.dumps({"update_id": 5, "message": {"text": CANARY}}).encode()[:30]
                 + CANARY.encode(), id="truncated-json"),
    pytest.param(b"\xff\xfe" + CANARY.encode(), id="not-utf8"),
    pytest.param(json.dumps([{"update_id": 5, "text": CANARY}]).encode(), id="json-list"),
    pytest.param(json.dumps({"message": {"text": CANARY}}).encode(), id="no-update-id"),
    pytest.param(json.dumps({"update_id": 5, "message": {"message_id": 1, "date": "today",
                 "chat": {"id": 7, "type": "private"}, "text": CANARY}}).encode(),
                 id="wrong-field-type"),
    pytest.param(json.dumps({"update_id": 5, "message": {"message_id": 1, "date": 1700000000,
                 "chat": {"id": 7, "type": "private"}, "text": CANARY * 100_000}}).encode(),
                 id="huge-body"),
]


@pytest.mark.parametrize("body", UNREADABLE_BODIES)
async def test_unreadable_webhook_bodies_are_answered_counted_and_never_quoted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
    body: bytes,
) -> None:
    caplog.set_level(logging.INFO, logger=SANAD_LOGGER)
    async with LocalBotApi.running() as api, webhook_bot_on(api, tmp_path, monkeypatch) as bot:
        _token, url, secret = bot
        headers = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
            refused = await http.post(url, content=body, headers={**headers, SECRET_HEADER: "x"})
            answer = await http.post(url, content=body, headers={**headers, SECRET_HEADER: secret})
        assert refused.status_code == 403  # without the secret, nothing is read or counted
        assert refused.headers["Connection"] == "close"  # its body unread, the connection ends
        # A 2xx: Telegram would otherwise deliver the same body again and again.
        assert answer.status_code == 200
        assert unreadable_total(caplog) == 1
        await answered(api.open_chat(1001, "Amal"))
    assert not handler_errors(caplog)
    assert not quoting(caplog, CANARY)
