"""``sanad run`` in webhook mode: the local Bot API server posts updates to PTB's webhook server.

The configuration points ``webhook_url`` at the bot's own loopback listener over http (allowed
for loopback only, as for ``api_base_url``), under a two-segment path so the whole path is what
the listener serves. The local server calls ``setWebhook``'s URL with the
``X-Telegram-Bot-Api-Secret-Token`` header, as Telegram does; a request without that secret, or
with another one, must be refused by PTB's webhook server before the bot sees it.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.local_api import LocalBotApi, UserChat
from crypto.keys import OrganisationKeys
from tests.support.processes import sanad_run
from tests.webhook.configuration import config_toml

# One bot serves the module's tests: starting ``sanad run`` costs seconds.
pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

TOKEN_ENV = "SANAD_TEST_BOT_TOKEN"
SECRET_ENV = "SANAD_WEBHOOK_SECRET"
NOT_A_CASEWORKER = "This command is for verified caseworkers."
START_TIMEOUT = 30.0


@dataclass
class WebhookBot:
    api: LocalBotApi
    url: str
    secret: str


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def webhook_set(api: LocalBotApi, token: str, url: str) -> None:
    """Wait until ``sanad run`` has called setWebhook with ``url``."""
    async with asyncio.timeout(START_TIMEOUT):
        # setWebhook changes the server's state from another process: nothing to wait on.
        while (hook := api.world.bots[token].webhook) is None or hook.url != url:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def webhook_bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WebhookBot]:
    tmp_path = tmp_path_factory.mktemp("webhook")
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        secret = secrets.token_hex(32)
        port = free_loopback_port()
        url = f"http://127.0.0.1:{port}/telegram/{secrets.token_hex(8)}"
        config = tmp_path / "config.toml"
        config.write_text(config_toml(
            api_url=api.url, folder=tmp_path, org=OrganisationKeys.generate(),
            token_env=TOKEN_ENV,
            tables={"telegram": {
                "mode": "webhook", "webhook_url": url, "webhook_listen": "127.0.0.1",
                "webhook_port": port, "webhook_secret_env": SECRET_ENV,
            }},
        ))
        env = {TOKEN_ENV: token, SECRET_ENV: secret}
        async with sanad_run(config, tmp_path / "bot.log", env):
            await webhook_set(api, token, url)
            yield WebhookBot(api, url, secret)


async def ask_cases(chat: UserChat) -> None:
    await chat.send_command("cases")
    await chat.wait_for(lambda m: m.text == NOT_A_CASEWORKER, timeout=15)


def answers(chat: UserChat) -> int:
    return sum(1 for m in chat.bot_messages() if m.text == NOT_A_CASEWORKER)


def forged_cases_update(chat_id: int) -> dict[str, Any]:
    """A ``/cases`` update from ``chat_id``, as a sender who knows the webhook URL could post it."""
    person = {"id": chat_id, "is_bot": False, "first_name": "Forger"}
    return {
        "update_id": 900_000_001,
        "message": {
            "message_id": 9001,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Forger"},
            "from": person,
            "text": "/cases",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_update_delivered_by_webhook_reaches_the_bot_and_is_answered(
    webhook_bot: WebhookBot,
) -> None:
    chat = webhook_bot.api.open_chat(5101, "Caseworker")
    await ask_cases(chat)
    # While a webhook is set the server refuses getUpdates (409): the answer came by webhook.
    token = next(iter(webhook_bot.api.world.bots))
    assert webhook_bot.api.pending_updates(token) == []
    assert webhook_bot.api.world.bots[token].webhook is not None


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}],
    ids=["without_secret", "wrong_secret"],
)
async def test_webhook_request_without_the_right_secret_is_refused_and_never_handled(
    webhook_bot: WebhookBot, headers: dict[str, str]
) -> None:
    chat = webhook_bot.api.open_chat(5102 + len(headers), "Caseworker")
    await ask_cases(chat)  # the chat is open, so an answer to a forged update could land in it
    update = forged_cases_update(chat.chat_id)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        refused = await http.post(webhook_bot.url, json=update, headers=headers)
        assert refused.status_code == 403
        # The very same request with the secret is taken: the secret alone made the difference.
        right = {"X-Telegram-Bot-Api-Secret-Token": webhook_bot.secret}
        taken = await http.post(webhook_bot.url, json=update, headers=right)
        assert taken.status_code == 200
    await chat.wait_until(lambda: answers(chat) == 2, timeout=15)
    await asyncio.sleep(0.5)  # anything the refused request could have caused has had its time
    assert answers(chat) == 2
