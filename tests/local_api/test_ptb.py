"""The real python-telegram-bot Application, over real HTTP, against the local server."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.local_api import AdjustableClock, Fault, LocalBotApi

from .conftest import application, polling

Context = ContextTypes.DEFAULT_TYPE


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


async def test_echo_bot_answers_user_text(api: LocalBotApi, token: str) -> None:
    async def echo(update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app = application(api, token)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    chat = api.open_chat(1001, "Amal", language_code="ar")
    async with polling(app):
        await chat.send_text("مرحبا")
        reply = await chat.wait_for()
    assert reply.text == "echo: مرحبا"
    assert reply.from_bot


async def test_command_reaches_command_handler_with_language(api: LocalBotApi, token: str) -> None:
    seen: list[tuple[list[str], str | None]] = []

    async def start(update: Update, context: Context) -> None:
        assert update.effective_user is not None
        assert update.effective_message is not None
        seen.append((list(context.args or []), update.effective_user.language_code))
        await update.effective_message.reply_text("welcome")

    app = application(api, token)
    app.add_handler(CommandHandler("start", start))
    chat = api.open_chat(1002, "Karim", language_code="fr")
    async with polling(app):
        await chat.send_command("start", "deep-link")
        await chat.wait_for(lambda m: m.text == "welcome")
    assert seen == [(["deep-link"], "fr")]


async def test_inline_button_press_reaches_callback_handler_and_is_answered(
    api: LocalBotApi, token: str
) -> None:
    async def ask(update: Update, context: Context) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="consent:yes"),
                                          InlineKeyboardButton("No", callback_data="consent:no")]])
        await update.effective_message.reply_text("Consent?", reply_markup=keyboard)

    async def pressed(update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("noted")
        await query.edit_message_text(f"You chose {query.data}")

    app = application(api, token)
    app.add_handler(CommandHandler("start", ask))
    app.add_handler(CallbackQueryHandler(pressed))
    chat = api.open_chat(1003, "Rana")
    async with polling(app):
        await chat.send_command("start")
        question = await chat.wait_for(lambda m: bool(m.buttons))
        assert [b.text for b in question.buttons[0]] == ["Yes", "No"]
        query_id = await chat.press_button(question.message_id, text="No")
        edited = await chat.wait_for(lambda m: m.edited)
    assert edited.message_id == question.message_id
    assert edited.text == "You chose consent:no"
    assert edited.buttons == ()  # editing without reply_markup removes the keyboard
    assert chat.callback_answer(query_id) == ("noted", False)


async def test_user_downloads_identical_bytes_of_document_bot_sent(
    api: LocalBotApi, token: str
) -> None:
    sealed = bytes(range(256)) * 40

    async def send(update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_document(
            sealed, filename="case-7Q2.sanad", caption="Sealed report"
        )

    app = application(api, token)
    app.add_handler(CommandHandler("file", send))
    chat = api.open_chat(1004, "Nour")
    async with polling(app):
        await chat.send_command("file")
        message = await chat.wait_for(lambda m: m.document is not None)
    assert message.document is not None
    assert message.document.file_name == "case-7Q2.sanad"
    assert message.caption == "Sealed report"
    assert chat.download(message) == sealed


async def test_bot_downloads_identical_bytes_of_user_photo_document_and_voice(
    api: LocalBotApi, token: str
) -> None:
    received: dict[str, bytes] = {}
    done = asyncio.Event()

    async def collect(update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None
        if message.photo:
            received["photo"] = bytes(await (await message.photo[-1].get_file())
                                      .download_as_bytearray())
            received["photo_sizes"] = bytes([len(message.photo)])
        elif message.document:
            assert message.document.file_name == "screenshot.pdf"
            assert message.document.mime_type == "application/pdf"
            received["document"] = bytes(await (await message.document.get_file())
                                         .download_as_bytearray())
        elif message.voice:
            assert message.voice.to_dict()["duration"] == 7
            received["voice"] = bytes(await (await message.voice.get_file())
                                      .download_as_bytearray())
        if {"photo", "document", "voice"} <= received.keys():
            done.set()

    photo, document, voice = _png(1000, 600), b"%PDF-1.7 evidence", b"OggS\x00voice-note"
    app = application(api, token)
    app.add_handler(MessageHandler(filters.ALL, collect))
    chat = api.open_chat(1005, "Sami")
    async with polling(app):
        await chat.send_photo(photo)
        await chat.send_document(document, "screenshot.pdf", "application/pdf")
        await chat.send_voice(voice, duration=7)
        await asyncio.wait_for(done.wait(), 5)
    assert received["photo"] == photo
    assert received["photo_sizes"] == bytes([4])  # 90, 320 and 800 px, then the original
    assert received["document"] == document
    assert received["voice"] == voice


async def test_delete_messages_removes_user_and_bot_messages_from_user_view(
    api: LocalBotApi, token: str
) -> None:
    async def reply_then_erase(update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None
        if message.text == "/forget":
            ids = [m.message_id for m in chat.messages() if m.message_id != keep.message_id]
            await context.bot.delete_messages(message.chat_id, ids)
            await context.bot.send_message(message.chat_id, "erased")
        else:
            await message.reply_text("got it")

    app = application(api, token)
    app.add_handler(MessageHandler(filters.TEXT, reply_then_erase))
    chat = api.open_chat(1006, "Lina")
    async with polling(app):
        await chat.send_text("first")
        keep = await chat.wait_for()
        await chat.send_text("second, private")
        await chat.wait_for()
        await chat.send_text("/forget")
        await chat.wait_for(lambda m: m.text == "erased")
    assert [m.text for m in chat.messages()] == ["got it", "erased"]


async def test_deleting_message_older_than_48_hours_raises_bad_request(
    api: LocalBotApi, token: str, clock: AdjustableClock
) -> None:
    chat = api.open_chat(1007, "Huda")
    sent = await chat.send_text("old message")
    clock.advance(48 * 3600 + 1)
    async with application(api, token) as app:
        with pytest.raises(BadRequest, match=r"^Message can't be deleted$"):
            await app.bot.delete_message(chat.chat_id, sent.message_id)
    assert [m.message_id for m in chat.messages()] == [sent.message_id]


async def test_message_just_inside_48_hours_can_still_be_deleted(
    api: LocalBotApi, token: str, clock: AdjustableClock
) -> None:
    chat = api.open_chat(1008, "Huda")
    sent = await chat.send_text("recent message")
    clock.advance(48 * 3600 - 60)
    async with application(api, token) as app:
        assert await app.bot.delete_message(chat.chat_id, sent.message_id)
    assert chat.messages() == []


async def test_injected_429_surfaces_as_retry_after_with_its_delay(
    api: LocalBotApi, token: str
) -> None:
    chat = api.open_chat(1009, "Omar")
    await chat.send_text("hi")
    api.faults.inject("sendMessage", sequence=[Fault.rate_limited(7)])
    async with application(api, token) as app:
        with pytest.raises(RetryAfter, match="Retry in 7 seconds"):
            await app.bot.send_message(chat.chat_id, "too fast")
        await app.bot.send_message(chat.chat_id, "later")
    assert [m.text for m in chat.bot_messages()] == ["later"]


async def test_bad_requests_surface_as_bad_request_with_telegram_wording(
    api: LocalBotApi, token: str
) -> None:
    chat = api.open_chat(1010, "Yara")
    await chat.send_text("hi")
    async with application(api, token) as app:
        with pytest.raises(BadRequest, match=r"^Chat not found$"):
            await app.bot.send_message(999999, "nobody")
        with pytest.raises(BadRequest, match=r"^Message text is empty$"):
            await app.bot.send_message(chat.chat_id, "   ")
        with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
            await app.bot.delete_message(chat.chat_id, 4242)
        sent = await app.bot.send_message(chat.chat_id, "same")
        with pytest.raises(BadRequest, match=r"^Message is not modified"):
            await app.bot.edit_message_text("same", chat.chat_id, sent.message_id)


async def test_sending_after_user_blocked_bot_raises_forbidden(
    api: LocalBotApi, token: str
) -> None:
    chat = api.open_chat(1011, "Dina")
    await chat.send_text("hi")
    await chat.block()
    async with application(api, token) as app:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await app.bot.send_message(chat.chat_id, "are you there?")
    assert chat.bot_messages() == []


async def test_wrong_token_raises_invalid_token_at_initialize(api: LocalBotApi, token: str) -> None:
    app = application(api, "123:not-the-registered-token")
    with pytest.raises(InvalidToken):
        await app.initialize()
