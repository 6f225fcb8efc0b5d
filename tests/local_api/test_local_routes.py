"""The chat as the user sees it, over the /_local JSON routes and from a background thread."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from bot.local_api import LocalBotApi


async def test_view_after_deletions_shows_only_remaining_messages_and_version_grows(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    chat = api.open_chat(5001, "Amal")
    versions = [chat.version]
    first = await chat.send_text("keep me")
    versions.append(chat.version)
    second = await chat.send_text("delete me")
    versions.append(chat.version)
    await http.post(f"{api.bot_base_url}{token}/sendMessage",
                    json={"chat_id": chat.chat_id, "text": "bot reply"})
    versions.append(chat.version)
    await http.post(f"{api.bot_base_url}{token}/deleteMessage",
                    json={"chat_id": chat.chat_id, "message_id": second.message_id})
    versions.append(chat.version)
    assert versions == sorted(set(versions))  # strictly increasing
    snapshot = (await http.get(f"{api.url}/_local/chats/{chat.chat_id}")).json()
    assert [m["text"] for m in snapshot["messages"]] == ["keep me", "bot reply"]
    assert snapshot["messages"][0]["message_id"] == first.message_id
    assert snapshot["version"] == chat.version
    events = (await http.get(f"{api.url}/_local/chats/{chat.chat_id}/events",
                             params={"since": versions[3]})).json()
    assert events["events"] == [
        {"version": versions[4], "kind": "deleted", "message_id": second.message_id}]


async def test_events_route_long_polls_until_something_happens(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    chat = api.open_chat(5002, "Amal")
    since = chat.version
    poll = asyncio.create_task(http.get(f"{api.url}/_local/chats/{chat.chat_id}/events",
                                        params={"since": since, "wait": 10}))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await chat.send_text("hello")
    answer = (await asyncio.wait_for(poll, 2)).json()
    assert [e["kind"] for e in answer["events"]] == ["message"]


async def test_user_actions_over_http_reach_the_bot(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    opened = await http.post(f"{api.url}/_local/chats",
                             json={"user_id": 5003, "first_name": "Rana", "language_code": "fr"})
    assert opened.json()["user"]["language_code"] == "fr"
    sent = await http.post(f"{api.url}/_local/chats/5003/messages", json={"text": "/start"})
    assert sent.status_code == 200
    keyboard = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
    reply = (await http.post(f"{api.bot_base_url}{token}/sendMessage",
                             json={"chat_id": 5003, "text": "ok?", "reply_markup": keyboard}))
    message_id = reply.json()["result"]["message_id"]
    pressed = await http.post(f"{api.url}/_local/chats/5003/press",
                              json={"message_id": message_id, "callback_data": "yes"})
    assert pressed.status_code == 200
    kinds = [next(k for k in u if k != "update_id") for u in api.pending_updates(token)]
    assert kinds == ["message", "callback_query"]
    missing = await http.post(f"{api.url}/_local/chats/5003/press",
                              json={"message_id": message_id, "callback_data": "no"})
    assert missing.status_code == 400
    assert missing.json()["description"] == "the message has no such callback button"


async def test_local_posts_must_be_json_so_other_web_pages_cannot_forge_them(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    api.open_chat(5004, "Amal")
    forged = await http.post(f"{api.url}/_local/chats/5004/messages",
                             content=b'{"text": "forged"}', headers={"Content-Type": "text/plain"})
    assert forged.status_code == 400
    assert api.chat(5004).messages() == []


async def test_user_downloads_file_over_http(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    chat = api.open_chat(5005, "Amal")
    await chat.send_text("hi")
    await http.post(f"{api.bot_base_url}{token}/sendDocument", data={"chat_id": "5005"},
                    files={"document": ("case.sanad", b"sealed bytes", "application/x-sanad")})
    message = chat.bot_messages()[0]
    download = await http.get(
        f"{api.url}/_local/chats/5005/messages/{message.message_id}/file")
    assert download.content == b"sealed bytes"


def test_background_thread_server_serves_synchronous_callers() -> None:
    server = LocalBotApi.in_thread()
    token = server.api.add_bot()
    with server:
        chat = server.call(lambda api: api.open_chat(5006, "Amal"))
        server.run(lambda: chat.send_text("from another thread"))
        with httpx.Client(trust_env=False, timeout=5) as http:
            updates = http.post(f"{server.api.bot_base_url}{token}/getUpdates").json()["result"]
            http.post(f"{server.api.bot_base_url}{token}/sendMessage",
                      json={"chat_id": 5006, "text": "answer"})
        reply = server.run(lambda: chat.wait_for(timeout=2))
    assert [u["message"]["text"] for u in updates] == ["from another thread"]
    assert reply.text == "answer"
    with pytest.raises(Exception, match="not running"):
        server.api.url  # noqa: B018 - the property raises once stopped


async def test_wait_for_times_out_when_the_bot_stays_silent(api: LocalBotApi, token: str) -> None:
    chat = api.open_chat(5007, "Amal")
    await chat.send_text("anyone?")
    with pytest.raises(TimeoutError):
        await chat.wait_for(timeout=0.2)


def test_module_entry_point_prints_its_url_and_serves_the_token() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.local_api", "--port", "0", "--token", "77:manual-token"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(trust_env=False, timeout=5) as http:
            me = http.get(f"{url}/bot77:manual-token/getMe").json()["result"]
        assert me["id"] == 77
    finally:
        process.terminate()
        process.wait(5)
