"""Telegram's sending limits and injected faults."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from bot.local_api import AdjustableClock, Fault, LocalBotApi, RateLimits, UserChat
from bot.local_api.limits import FaultInjector


@pytest.fixture
async def chat(api: LocalBotApi, token: str) -> UserChat:
    opened = api.open_chat(4001, "Amal")
    await opened.send_text("hello")
    return opened


async def _send(http: httpx.AsyncClient, api: LocalBotApi, token: str, chat_id: int,
                text: str = "x") -> httpx.Response:
    return await http.post(f"{api.bot_base_url}{token}/sendMessage",
                           json={"chat_id": chat_id, "text": text})


async def test_rate_limits_are_off_by_default(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    statuses = [(await _send(http, api, token, chat.chat_id)).status_code for _ in range(10)]
    assert statuses == [200] * 10


async def test_per_chat_limit_answers_429_after_burst_until_time_passes(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat,
    clock: AdjustableClock,
) -> None:
    api.rate_limits = RateLimits(enabled=True, per_chat_per_second=0.5, per_chat_burst=3)
    statuses = [(await _send(http, api, token, chat.chat_id)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = await _send(http, api, token, chat.chat_id)
    assert refused.status_code == 429
    body: dict[str, Any] = refused.json()
    assert body["parameters"]["retry_after"] == 2  # one token at 0.5/s
    assert body["description"] == "Too Many Requests: retry after 2"
    clock.advance(2)
    assert (await _send(http, api, token, chat.chat_id)).status_code == 200
    assert len(chat.bot_messages()) == 4  # the refused message was not sent


async def test_global_limit_spans_chats(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    api.rate_limits = RateLimits(enabled=True, global_per_second=1, global_burst=5)
    chats = [api.open_chat(4100 + i, f"user{i}") for i in range(6)]
    for chat in chats:
        await chat.send_text("hi")
    statuses = [(await _send(http, api, token, c.chat_id)).status_code for c in chats]
    assert statuses == [200] * 5 + [429]


async def test_fault_sequence_is_applied_in_order_then_calls_pass(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    api.faults.inject("sendmessage", sequence=[
        Fault.server_error(), None, Fault.forbidden(), Fault.rate_limited(3)])
    responses = [await _send(http, api, token, chat.chat_id, f"m{i}") for i in range(5)]
    assert [r.status_code for r in responses] == [500, 200, 403, 429, 200]
    assert responses[2].json()["description"] == "Forbidden: bot was blocked by the user"
    assert responses[3].json()["parameters"] == {"retry_after": 3}
    assert [m.text for m in chat.bot_messages()] == ["m1", "m4"]  # failed calls had no effect


def test_fault_share_is_reproducible_from_the_seed() -> None:
    def draws(seed: int) -> list[bool]:
        injector = FaultInjector(seed)
        injector.inject("sendMessage", share=0.5, fault=Fault.server_error())
        return [injector.next_fault("sendMessage") is not None for _ in range(40)]

    assert draws(7) == draws(7)
    assert 5 < sum(draws(7)) < 35  # a share, not all or nothing
    assert draws(7) != draws(8)


async def test_hang_never_answers_and_after_effect_still_sends(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    api.faults.inject("sendMessage", sequence=[Fault.hang(after_effect=True), Fault.hang()])
    with pytest.raises(httpx.ReadTimeout):
        await http.post(f"{api.bot_base_url}{token}/sendMessage",
                        json={"chat_id": chat.chat_id, "text": "acknowledgement lost"},
                        timeout=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await http.post(f"{api.bot_base_url}{token}/sendMessage",
                        json={"chat_id": chat.chat_id, "text": "never sent"}, timeout=0.3)
    assert [m.text for m in chat.bot_messages()] == ["acknowledgement lost"]


async def test_stopping_the_server_ends_a_hung_call() -> None:
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        api.faults.inject("getMe", sequence=[Fault.hang()])
        async with httpx.AsyncClient(trust_env=False) as http:
            hung = asyncio.create_task(http.get(f"{api.bot_base_url}{token}/getMe", timeout=10))
            await asyncio.sleep(0.2)
            await asyncio.wait_for(api.stop(), 2)
            with pytest.raises(httpx.HTTPError):
                await asyncio.wait_for(hung, 2)
