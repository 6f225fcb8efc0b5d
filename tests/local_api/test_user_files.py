"""Files a user sends over the ``/_local`` routes reach the bot as Telegram delivers them."""

from __future__ import annotations

import io
from importlib import resources
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.local_api import LocalBotApi

SAMPLE_VOICE = resources.files("bot.try_mode").joinpath("sample-voice.ogg").read_bytes()


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(out, "JPEG")
    return out.getvalue()


async def post_file(
    http: httpx.AsyncClient, api: LocalBotApi, chat_id: int, content: bytes, **query: Any
) -> httpx.Response:
    return await http.post(f"{api.url}/_local/chats/{chat_id}/files", params=query,
                           content=content,
                           headers={"Content-Type": "application/octet-stream"})


async def received(http: httpx.AsyncClient, api: LocalBotApi, token: str) -> dict[str, Any]:
    """The message of the one update the bot gets."""
    updates = (await http.post(f"{api.bot_base_url}{token}/getUpdates")).json()["result"]
    assert len(updates) == 1
    return dict(updates[0]["message"])


async def download(http: httpx.AsyncClient, api: LocalBotApi, token: str, file_id: str) -> bytes:
    found = (await http.post(f"{api.bot_base_url}{token}/getFile",
                             json={"file_id": file_id})).json()["result"]
    return (await http.get(f"{api.file_base_url}{token}/{found['file_path']}")).content


async def test_photo_reaches_the_bot_in_sizes_with_the_sent_bytes_as_the_largest(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    api.open_chat(6001, "Amal")
    photo = jpeg(1000, 500)
    sent = await post_file(http, api, 6001, photo, kind="photo", caption="صورة")
    assert sent.status_code == 200
    assert sent.json()["message"]["photo"]["size"] == len(photo)
    message = await received(http, api, token)
    sizes = message["photo"]
    assert [(s["width"], s["height"]) for s in sizes] == [(90, 45), (320, 160), (800, 400),
                                                          (1000, 500)]
    assert all(set(s) == {"file_id", "file_unique_id", "file_size", "width", "height"}
               for s in sizes)
    assert len({s["file_id"] for s in sizes}) == len({s["file_unique_id"] for s in sizes}) == 4
    assert message["caption"] == "صورة"
    assert await download(http, api, token, sizes[-1]["file_id"]) == photo
    smallest = Image.open(io.BytesIO(await download(http, api, token, sizes[0]["file_id"])))
    assert (smallest.format, smallest.size, sizes[0]["file_size"]) == (
        "JPEG", (90, 45), len(await download(http, api, token, sizes[0]["file_id"])))


async def test_document_keeps_the_name_and_type_the_client_reports(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    api.open_chat(6002, "Amal")
    pdf = b"%PDF-1.4\n% not much of a document\n%%EOF\n"
    sent = await post_file(http, api, 6002, pdf, kind="document", file_name="تهديد.pdf",
                           mime_type="application/pdf")
    assert sent.status_code == 200
    document = (await received(http, api, token))["document"]
    assert document["file_name"] == "تهديد.pdf"
    assert document["mime_type"] == "application/pdf"
    assert document["file_size"] == len(pdf)
    assert await download(http, api, token, document["file_id"]) == pdf


async def test_voice_note_gets_its_duration_from_the_ogg_opus_stream(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    api.open_chat(6003, "Amal")
    assert (await post_file(http, api, 6003, SAMPLE_VOICE, kind="voice")).status_code == 200
    voice = (await received(http, api, token))["voice"]
    assert (voice["duration"], voice["mime_type"], voice["file_size"]) == (
        2, "audio/ogg", len(SAMPLE_VOICE))
    assert await download(http, api, token, voice["file_id"]) == SAMPLE_VOICE
    path = (await http.post(f"{api.bot_base_url}{token}/getFile",
                            json={"file_id": voice["file_id"]})).json()["result"]["file_path"]
    assert path.startswith("voice/")
    assert path.endswith(".oga")


async def test_voice_note_that_is_not_ogg_opus_needs_a_duration(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    api.open_chat(6004, "Amal")
    refused = await post_file(http, api, 6004, b"RIFF....WAVE", kind="voice")
    assert refused.status_code == 400
    assert "duration" in refused.json()["description"]
    assert (await post_file(http, api, 6004, b"RIFF....WAVE", kind="voice",
                            duration=3)).status_code == 200


async def test_file_over_the_upload_limit_is_refused_with_the_reason() -> None:
    async with LocalBotApi.running(max_upload_bytes=4096) as api, httpx.AsyncClient(
        trust_env=False, timeout=10
    ) as http:
        api.add_bot()
        chat = api.open_chat(6005, "Amal")
        refused = await post_file(http, api, 6005, b"x" * 5000, kind="document",
                                  file_name="big.bin")
        assert refused.status_code == 413
        assert refused.json()["description"] == (
            "the file is 4.9 KB; this server takes files of up to 4.0 KB from a user "
            "(it keeps them in memory)")
        assert chat.messages() == []
        assert (await post_file(http, api, 6005, b"x" * 4096, kind="document",
                                file_name="fits.bin")).status_code == 200


@pytest.mark.parametrize(
    ("content_type", "query"),
    [
        # What another web page can post without asking (no CORS preflight): refused.
        ("text/plain", {"kind": "document", "file_name": "a.txt"}),
        ("multipart/form-data; boundary=x", {"kind": "document", "file_name": "a.txt"}),
        ("application/x-www-form-urlencoded", {"kind": "document", "file_name": "a.txt"}),
        # Not a file Telegram would deliver.
        ("application/octet-stream", {"kind": "sticker"}),
        ("application/octet-stream", {"kind": "document"}),
        ("application/octet-stream", {"kind": "photo"}),  # not an image
    ],
)
async def test_file_posts_a_client_could_not_send_are_refused(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, content_type: str,
    query: dict[str, str],
) -> None:
    chat = api.open_chat(6006, "Amal")
    refused = await http.post(f"{api.url}/_local/chats/6006/files", params=query,
                              content=b"some bytes", headers={"Content-Type": content_type})
    assert refused.status_code == 400
    assert chat.messages() == []
    assert api.pending_updates(token) == []


async def test_answer_to_a_press_is_in_the_chat_events_as_the_app_shows_it(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    chat = api.open_chat(6007, "Amal")
    await chat.send_text("/start")
    keyboard = {"inline_keyboard": [[{"text": "Erase", "callback_data": "erase"}]]}
    sent = (await http.post(f"{api.bot_base_url}{token}/sendMessage",
                            json={"chat_id": 6007, "text": "?", "reply_markup": keyboard}))
    query_id = await chat.press_button(sent.json()["result"]["message_id"], text="Erase")
    await http.post(f"{api.bot_base_url}{token}/answerCallbackQuery",
                    json={"callback_query_id": query_id, "text": "تم حذف كل شيء"})
    events = (await http.get(f"{api.url}/_local/chats/6007/events")).json()["events"]
    answered = [e for e in events if e["kind"] == "callback_answered"]
    assert [(e["text"], e["show_alert"]) for e in answered] == [("تم حذف كل شيء", False)]
