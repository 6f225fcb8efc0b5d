"""getUpdates and webhook semantics, spoken over raw HTTP as any Bot API client would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.local_api import LocalBotApi


async def _call(http: httpx.AsyncClient, api: LocalBotApi, token: str, method: str,
                **params: Any) -> httpx.Response:
    return await http.post(f"{api.bot_base_url}{token}/{method}", json=params)


async def _updates(http: httpx.AsyncClient, api: LocalBotApi, token: str,
                   **params: Any) -> list[dict[str, Any]]:
    response = await _call(http, api, token, "getUpdates", **params)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["result"]
    return result


async def test_offset_confirms_earlier_updates(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    chat = api.open_chat(2001, "Amal")
    for text in ("one", "two", "three"):
        await chat.send_text(text)
    first = await _updates(http, api, token)
    assert [u["message"]["text"] for u in first] == ["one", "two", "three"]
    again = await _updates(http, api, token)
    assert again == first  # not confirmed yet: delivered again
    rest = await _updates(http, api, token, offset=first[1]["update_id"] + 1)
    assert [u["message"]["text"] for u in rest] == ["three"]
    assert api.pending_updates(token) == rest


async def test_negative_offset_keeps_only_the_last_updates_and_limit_caps_the_answer(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    chat = api.open_chat(2002, "Amal")
    for text in ("a", "b", "c", "d"):
        await chat.send_text(text)
    assert [u["message"]["text"] for u in await _updates(http, api, token, limit=1)] == ["a"]
    last = await _updates(http, api, token, offset=-2)
    assert [u["message"]["text"] for u in last] == ["c", "d"]
    assert len(api.pending_updates(token)) == 2


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    chat = api.open_chat(2003, "Amal")
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(_updates(http, api, token, timeout=10))
    await asyncio.sleep(0.2)  # let the poll reach the server and start waiting
    assert not poll.done()
    await chat.send_text("now")
    updates = await asyncio.wait_for(poll, 2)
    assert [u["message"]["text"] for u in updates] == ["now"]
    assert loop.time() - started < 2  # far before the 10 s timeout


async def test_long_poll_without_updates_waits_for_its_timeout(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await _updates(http, api, token, timeout=1) == []
    assert loop.time() - started >= 0.9


async def test_second_poller_terminates_the_first_with_conflict(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    first = asyncio.create_task(_call(http, api, token, "getUpdates", timeout=5))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(_call(http, api, token, "getUpdates", timeout=0))
    answer = await asyncio.wait_for(first, 2)
    assert answer.status_code == 409
    assert "terminated by other getUpdates request" in answer.json()["description"]
    assert (await second).status_code == 200


async def test_allowed_updates_filters_later_updates(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    chat = api.open_chat(2004, "Amal")
    await _updates(http, api, token, allowed_updates=["callback_query"])
    await chat.send_text("ignored: messages not wanted")
    assert await _updates(http, api, token) == []


async def test_get_updates_is_refused_while_webhook_is_set(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    response = await _call(http, api, token, "setWebhook", url="http://127.0.0.1:9/hook")
    assert response.json() == {"ok": True, "result": True}
    refused = await _call(http, api, token, "getUpdates")
    assert refused.status_code == 409
    assert refused.json()["description"].startswith(
        "Conflict: can't use getUpdates method while webhook is active"
    )
    await _call(http, api, token, "deleteWebhook")
    assert (await _call(http, api, token, "getUpdates")).status_code == 200


async def test_webhook_must_be_on_loopback(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    response = await _call(http, api, token, "setWebhook", url="https://example.org/hook")
    assert response.status_code == 400
    assert response.json()["description"].startswith("Bad Request: bad webhook")


class _Receiver:
    """A tiny webhook endpoint that fails its first ``failures`` deliveries with 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        self.arrived = asyncio.Event()

    def handler(self) -> type[tornado.web.RequestHandler]:
        receiver = self

        class Hook(tornado.web.RequestHandler):
            def post(self) -> None:
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.set_status(500)
                    return
                secret = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token")
                receiver.received.append((secret, json.loads(self.request.body)))
                receiver.arrived.set()

        return Hook


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[_Receiver, str]]:
    hook = _Receiver(failures=2)
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(tornado.web.Application([(r"/hook", hook.handler())]))
    server.add_sockets(sockets)
    try:
        yield hook, f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook"
    finally:
        server.stop()
        await server.close_all_connections()


async def test_webhook_delivers_with_secret_header_and_retries_after_failure(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, receiver: tuple[_Receiver, str]
) -> None:
    hook, url = receiver
    chat = api.open_chat(2005, "Amal")
    await chat.send_text("before the webhook, dropped")
    response = await _call(http, api, token, "setWebhook", url=url, secret_token="s3cr3t-_",
                           drop_pending_updates=True)
    assert response.json()["result"] is True
    await chat.send_text("delivered")
    await asyncio.wait_for(hook.arrived.wait(), 5)
    assert [(s, u["message"]["text"]) for s, u in hook.received] == [("s3cr3t-_", "delivered")]
    assert hook.failures == 0  # two 500s were answered, then retried
    info = (await _call(http, api, token, "getWebhookInfo")).json()["result"]
    assert info["url"] == url
    assert info["pending_update_count"] == 0
    assert info["last_error_message"].startswith("Wrong response from the webhook: 500")
