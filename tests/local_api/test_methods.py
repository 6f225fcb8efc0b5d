"""Bot API method rules and error wording, over raw HTTP in each encoding clients use."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.local_api import AdjustableClock, LocalBotApi, UserChat


@pytest.fixture
async def chat(api: LocalBotApi, token: str) -> UserChat:
    """A chat whose user has written first, so the bot may answer."""
    opened = api.open_chat(3001, "Amal", language_code="ar")
    await opened.send_text("hello")
    return opened


async def _post(http: httpx.AsyncClient, api: LocalBotApi, token: str, method: str,
                **params: Any) -> tuple[int, dict[str, Any]]:
    response = await http.post(f"{api.bot_base_url}{token}/{method}", json=params)
    return response.status_code, response.json()


async def _error(http: httpx.AsyncClient, api: LocalBotApi, token: str, method: str,
                 **params: Any) -> str:
    status, body = await _post(http, api, token, method, **params)
    assert status == body["error_code"] != 200
    assert body["ok"] is False
    description: str = body["description"]
    return description


async def test_unknown_token_is_401_and_unknown_method_is_404_in_api_shape(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    wrong = await http.get(f"{api.bot_base_url}1:wrong/getMe")
    assert (wrong.status_code, wrong.json()) == (
        401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    unknown = await http.get(f"{api.bot_base_url}{token}/sendTelepathy")
    assert (unknown.status_code, unknown.json()) == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_get_query_form_and_json_bodies_are_read_alike(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    base = f"{api.bot_base_url}{token}/sendMessage"
    by_query = await http.get(base, params={"chat_id": str(chat.chat_id), "text": "123"})
    by_form = await http.post(base, data={"chat_id": str(chat.chat_id), "text": "form"})
    by_json = await http.post(base, json={"chat_id": chat.chat_id, "text": "json"})
    assert [r.status_code for r in (by_query, by_form, by_json)] == [200, 200, 200]
    assert by_query.json()["result"]["text"] == "123"  # a string parameter stays a string
    assert [m.text for m in chat.bot_messages()] == ["123", "form", "json"]


async def test_method_names_are_case_insensitive(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    me = (await http.get(f"{api.bot_base_url}{token}/GETME")).json()["result"]
    assert me["is_bot"] is True
    assert me["username"] == "sanad_test_bot"


async def test_bot_cannot_write_first_nor_to_unknown_chat(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    silent = api.open_chat(3002, "Karim")
    assert await _error(http, api, token, "sendMessage", chat_id=silent.chat_id, text="hi") == (
        "Forbidden: bot can't initiate conversation with a user")
    assert await _error(http, api, token, "sendMessage", chat_id=42, text="hi") == (
        "Bad Request: chat not found")
    assert await _error(http, api, token, "sendMessage", chat_id="@someone", text="hi") == (
        "Bad Request: chat not found")


async def test_text_length_is_checked_after_entity_parsing(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    exactly = "<b>" + "x" * 4096 + "</b>"  # 4103 characters of markup, 4096 of text
    status, body = await _post(http, api, token, "sendMessage", chat_id=chat.chat_id,
                               text=exactly, parse_mode="HTML")
    assert status == 200
    assert body["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 4096}]
    assert await _error(http, api, token, "sendMessage", chat_id=chat.chat_id,
                        text="x" * 4097) == "Bad Request: message is too long"
    assert await _error(http, api, token, "sendMessage", chat_id=chat.chat_id,
                        text="<i> </i>", parse_mode="HTML") == "Bad Request: message text is empty"


async def test_markdown_v2_parses_entities_and_refuses_unescaped_reserved_characters(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    status, body = await _post(http, api, token, "sendMessage", chat_id=chat.chat_id,
                               text=r"*Case* `7Q2` \- [help](https://example.org)",
                               parse_mode="MarkdownV2")
    assert status == 200
    assert body["result"]["text"] == "Case 7Q2 - help"
    assert [e["type"] for e in body["result"]["entities"]] == ["bold", "code", "text_link"]
    assert await _error(http, api, token, "sendMessage", chat_id=chat.chat_id,
                        text="Thanks.", parse_mode="MarkdownV2") == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'")


async def test_user_command_carries_bot_command_entity(
    api: LocalBotApi, token: str, chat: UserChat
) -> None:
    await chat.send_command("status", "1234")
    update = api.pending_updates(token)[-1]["message"]
    assert update["text"] == "/status 1234"
    assert update["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]
    assert update["from"]["language_code"] == "ar"
    assert update["chat"] == {"id": chat.chat_id, "type": "private", "first_name": "Amal"}


async def test_callback_data_over_64_bytes_is_refused(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    def markup(data: str) -> str:
        return json.dumps({"inline_keyboard": [[{"text": "Go", "callback_data": data}]]})

    assert await _error(http, api, token, "sendMessage", chat_id=chat.chat_id, text="pick",
                        reply_markup=markup("é" * 33)) == "Bad Request: BUTTON_DATA_INVALID"
    status, _ = await _post(http, api, token, "sendMessage", chat_id=chat.chat_id, text="pick",
                            reply_markup=markup("é" * 32))
    assert status == 200


async def test_reply_to_missing_message_is_refused_unless_allowed(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    assert await _error(http, api, token, "sendMessage", chat_id=chat.chat_id, text="re",
                        reply_parameters={"message_id": 999}) == (
        "Bad Request: message to be replied not found")
    status, body = await _post(
        http, api, token, "sendMessage", chat_id=chat.chat_id, text="re",
        reply_parameters={"message_id": 999, "allow_sending_without_reply": True})
    assert status == 200
    assert "reply_to_message" not in body["result"]
    status, body = await _post(http, api, token, "sendMessage", chat_id=chat.chat_id, text="re",
                               reply_to_message_id=chat.messages()[0].message_id)
    assert body["result"]["reply_to_message"]["text"] == "hello"


async def test_edit_rules(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    users = chat.messages()[0].message_id
    assert await _error(http, api, token, "editMessageText", chat_id=chat.chat_id,
                        message_id=users, text="x") == "Bad Request: message can't be edited"
    assert await _error(http, api, token, "editMessageText", chat_id=chat.chat_id,
                        message_id=999, text="x") == "Bad Request: message to edit not found"
    keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    _, sent = await _post(http, api, token, "sendMessage", chat_id=chat.chat_id, text="t",
                          reply_markup=keyboard)
    message_id = sent["result"]["message_id"]
    assert (await _error(http, api, token, "editMessageReplyMarkup", chat_id=chat.chat_id,
                         message_id=message_id, reply_markup=keyboard)).startswith(
        "Bad Request: message is not modified")
    status, edited = await _post(http, api, token, "editMessageReplyMarkup",
                                 chat_id=chat.chat_id, message_id=message_id)
    assert status == 200
    assert "reply_markup" not in edited["result"]
    assert "edit_date" in edited["result"]


async def test_delete_messages_skips_missing_ids_and_bounds_the_batch(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    second = await chat.send_text("second")
    status, body = await _post(http, api, token, "deleteMessages", chat_id=chat.chat_id,
                               message_ids=[second.message_id, 777])
    assert (status, body["result"]) == (200, True)
    assert [m.text for m in chat.messages()] == ["hello"]
    assert await _error(http, api, token, "deleteMessages", chat_id=chat.chat_id,
                        message_ids=list(range(1, 102))) == (
        "Bad Request: too many message identifiers specified")
    assert await _error(http, api, token, "deleteMessage", chat_id=chat.chat_id,
                        message_id=second.message_id) == "Bad Request: message to delete not found"


async def test_delete_messages_skips_messages_past_48_hours(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat,
    clock: AdjustableClock,
) -> None:
    clock.advance(49 * 3600)
    fresh = await chat.send_text("fresh")
    await _post(http, api, token, "deleteMessages", chat_id=chat.chat_id,
                message_ids=[m.message_id for m in chat.messages()])
    assert [m.text for m in chat.messages()] == ["hello"]  # too old to delete, skipped
    assert fresh.message_id not in [m.message_id for m in chat.messages()]


async def test_answer_callback_query_needs_an_unanswered_query(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    query_id = await chat.forge_press(12345, "stale:data")
    press = api.pending_updates(token)[-1]["callback_query"]
    assert press["message"] == {"chat": press["message"]["chat"], "message_id": 12345, "date": 0}
    status, _ = await _post(http, api, token, "answerCallbackQuery", callback_query_id=query_id)
    assert status == 200
    expired = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert await _error(http, api, token, "answerCallbackQuery",
                        callback_query_id=query_id) == expired
    assert await _error(http, api, token, "answerCallbackQuery",
                        callback_query_id="nope") == expired


async def test_multipart_upload_and_file_id_resend_share_one_file(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    url = f"{api.bot_base_url}{token}/sendDocument"
    upload = await http.post(url, data={"chat_id": str(chat.chat_id)},
                             files={"document": ("r.bin", b"\x00sealed", "application/x-sanad")})
    document = upload.json()["result"]["document"]
    assert document["file_name"] == "r.bin"
    assert document["mime_type"] == "application/x-sanad"
    assert document["file_size"] == 7
    again = await http.post(url, json={"chat_id": chat.chat_id, "document": document["file_id"]})
    assert again.json()["result"]["document"]["file_unique_id"] == document["file_unique_id"]
    assert await _error(http, api, token, "sendDocument", chat_id=chat.chat_id,
                        document="https://example.org/x.pdf") == (
        "Bad Request: wrong file identifier/HTTP URL specified")
    empty = await http.post(url, data={"chat_id": str(chat.chat_id)},
                            files={"document": ("e.bin", b"", "application/octet-stream")})
    assert empty.json()["description"] == "Bad Request: file must be non-empty"


async def test_get_file_refuses_files_over_20_mb_and_serves_smaller_ones(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat,
    clock: AdjustableClock,
) -> None:
    big = await chat.send_document(b"\x01" * (20 * 1024 * 1024 + 1), "big.mp4", "video/mp4")
    small = await chat.send_document(b"evidence", "small.txt", "text/plain")
    assert big.document is not None
    assert small.document is not None
    assert await _error(http, api, token, "getFile", file_id=big.document.file_id) == (
        "Bad Request: file is too big")
    _, body = await _post(http, api, token, "getFile", file_id=small.document.file_id)
    path = body["result"]["file_path"]
    assert path.endswith(".txt")
    download = await http.get(f"{api.file_base_url}{token}/{path}")
    assert download.content == b"evidence"
    wrong_bot = await http.get(f"{api.file_base_url}9:other/{path}")
    assert wrong_bot.status_code == 401
    clock.advance(3601)  # file paths are valid for an hour
    assert (await http.get(f"{api.file_base_url}{token}/{path}")).status_code == 404


async def test_chat_action_is_validated_and_shown(
    api: LocalBotApi, token: str, http: httpx.AsyncClient, chat: UserChat
) -> None:
    assert await _error(http, api, token, "sendChatAction", chat_id=chat.chat_id,
                        action="dancing") == "Bad Request: wrong parameter action in request"
    status, _ = await _post(http, api, token, "sendChatAction", chat_id=chat.chat_id,
                            action="typing")
    assert status == 200
    assert chat.events()[-1]["kind"] == "chat_action"


async def test_commands_are_kept_per_scope_and_language(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    commands = [{"command": "start", "description": "Begin a report"}]
    await _post(http, api, token, "setMyCommands", commands=commands, language_code="en")
    _, english = await _post(http, api, token, "getMyCommands", language_code="en")
    _, default = await _post(http, api, token, "getMyCommands")
    assert english["result"] == commands
    assert default["result"] == []
    assert await _error(http, api, token, "setMyCommands",
                        commands=[{"command": "Bad Command!", "description": "x"}]) == (
        "Bad Request: BOT_COMMAND_INVALID")


async def test_requests_for_a_non_loopback_host_name_are_refused(
    api: LocalBotApi, token: str, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{api.bot_base_url}{token}/getMe",
                              headers={"Host": "attacker.example"})
    assert response.status_code == 403


def test_server_refuses_to_bind_a_non_loopback_address() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalBotApi(host="0.0.0.0")
