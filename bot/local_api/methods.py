"""The Bot API methods Sanad uses, with Telegram's rules and Telegram's wording for refusals.

Each method takes a :class:`Call` (the bot, its parameters, the world) and returns the ``result``
of a successful answer or raises :class:`~bot.local_api.errors.ApiError`. They are registered
under their Bot API names in :data:`METHODS`; names are matched without regard to case, as
Telegram does. Reference: https://core.telegram.org/bots/api.
"""

from __future__ import annotations

import ipaddress
import json
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from bot.local_api.errors import ApiError, bad_request, forbidden
from bot.local_api.formatting import parse_text
from bot.local_api.params import Params, Upload
from bot.local_api.state import (
    DEFAULT_UPDATE_TYPES,
    FILE_PATH_LIFETIME,
    BotState,
    Chat,
    Message,
    StoredFile,
    Webhook,
    World,
)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_ANSWER_TEXT_LENGTH = 200
# "Bots can currently send files of any type of up to 50 MB in size" (Bot API, Sending files);
# an upload over it is answered 413 "Request Entity Too Large", as Telegram answers.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # and download up to 20 MB with getFile
# "A message can only be deleted if it was sent less than 48 hours ago" (deleteMessage)
DELETE_WINDOW_SECONDS = 48 * 3600
MAX_DELETE_BATCH = 100
MAX_LONG_POLL_SECONDS = 50.0

CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
})
ALL_UPDATE_TYPES = DEFAULT_UPDATE_TYPES | {
    "edited_message", "channel_post", "edited_channel_post", "chosen_inline_result",
    "shipping_query", "pre_checkout_query", "poll", "poll_answer", "chat_member",
    "chat_join_request", "message_reaction", "message_reaction_count", "chat_boost",
    "removed_chat_boost", "business_connection", "business_message", "edited_business_message",
    "deleted_business_messages", "purchased_paid_media",
}
_INLINE_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_BLOCKED = "bot was blocked by the user"
_WRONG_FILE = "wrong file identifier/HTTP URL specified"


class WebhookControl(Protocol):
    """What methods need from the server to start and stop webhook delivery."""

    def start(self, bot: BotState) -> None: ...

    def stop(self, bot: BotState) -> None: ...


@dataclass(eq=False)
class Call:
    """One request to a method: who asks, with what, and whether the client went away."""

    world: World
    bot: BotState
    params: Params
    webhooks: WebhookControl
    abandoned: bool = field(default=False)


Method = Callable[[Call], Awaitable[Any]]
METHODS: dict[str, Method] = {}
# Methods that send a message into a chat and therefore count against Telegram's limits.
SENDING_METHODS: set[str] = set()


def bot_method(name: str, *, sends: bool = False) -> Callable[[Method], Method]:
    """Register a method under its Bot API ``name``."""

    def register(function: Method) -> Method:
        METHODS[name.lower()] = function
        if sends:
            SENDING_METHODS.add(name.lower())
        return function

    return register


# --- helpers shared by the methods ---


def chat_of(call: Call) -> Chat:
    """The chat named by ``chat_id``; Telegram says "chat not found" for anything unknown."""
    raw = call.params.required_text("chat_id", "chat_id is empty")
    try:
        chat_id = int(raw)
    except ValueError:  # an @username: only public channels and groups have one
        raise bad_request("chat not found") from None
    chat = call.bot.chats.get(chat_id)
    if chat is None:
        raise bad_request("chat not found")
    return chat


def writable_chat_of(call: Call) -> Chat:
    """The chat named by ``chat_id``, if the bot may write to it now."""
    chat = chat_of(call)
    if chat.blocked:
        raise forbidden(_BLOCKED)
    if not chat.started:
        raise forbidden("bot can't initiate conversation with a user")
    return chat


def _message_id(call: Call) -> int:
    return call.params.required_integer("message_id", "message identifier is not specified")


def _reply_target(call: Call, chat: Chat) -> Message | None:
    """The message being answered (reply_parameters or reply_to_message_id), if any."""
    reply = call.params.json("reply_parameters", what="reply parameters")
    if reply is not None:
        if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
            raise bad_request("can't parse reply parameters JSON object")
        message_id: int | None = reply["message_id"]
        allow_missing = bool(reply.get("allow_sending_without_reply"))
    else:
        message_id = call.params.integer("reply_to_message_id")
        allow_missing = call.params.boolean("allow_sending_without_reply")
    if message_id is None:
        return None
    target = chat.messages.get(message_id)
    if target is None and not allow_missing:
        raise bad_request("message to be replied not found")
    return target


def _inline_keyboard(markup: dict[str, Any]) -> dict[str, Any]:
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard markup JSON object")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Text is not specified")
            actions = [key for key in _INLINE_BUTTON_ACTIONS if key in button]
            if len(actions) != 1:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not (
                    1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button and not str(button["url"]).strip():
                raise bad_request("BUTTON_URL_INVALID")
    return {"inline_keyboard": rows}


def _reply_markup(call: Call, *, inline_only: bool = False) -> dict[str, Any] | None:
    markup = call.params.json("reply_markup", what="reply keyboard markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return _inline_keyboard(markup)
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse reply keyboard markup JSON object")
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _post(call: Call, chat: Chat, message: Message, markup: dict[str, Any] | None) -> Any:
    """Put a bot message into the chat, apply its keyboard, and return it as the result."""
    message.reply_markup = markup
    if markup is not None and "keyboard" in markup:
        chat.reply_keyboard = markup
    elif markup is not None and markup.get("remove_keyboard") is True:
        chat.reply_keyboard = None
    chat.messages[message.message_id] = message
    chat.record("message", message_id=message.message_id, from_bot=True)
    return chat.message_to_api(message)


def _caption(call: Call) -> tuple[str | None, list[dict[str, Any]]]:
    caption = call.params.text("caption")
    if caption is None or not caption.strip():
        return None, []
    return parse_text(
        caption,
        call.params.text("parse_mode"),
        call.params.json("caption_entities", what="entities"),
        limit=MAX_CAPTION_LENGTH,
        empty="message caption is empty",
        too_long="message caption is too long",
    )


def _stored_file(call: Call, source: Upload | str) -> StoredFile:
    """Keep an uploaded document, or find the one an earlier file_id names."""
    if isinstance(source, str):
        known = call.world.files.get(source)
        if known is None:  # no URL fetching: nothing may leave this machine
            raise bad_request(_WRONG_FILE)
        return known
    if not source.content:
        raise bad_request("file must be non-empty")
    if len(source.content) > call.world.max_upload_bytes:
        raise ApiError(413, "Request Entity Too Large")
    name = source.filename or "document"
    mime = source.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return call.world.store_file(source.content, "documents", file_name=name, mime_type=mime)


def _deletable(call: Call, chat: Chat, message_id: int) -> Message | None:
    """The message if this bot may delete it now, else ``None``.

    In a private chat a bot may delete its own messages and the user's, but only within 48
    hours of sending (Bot API, deleteMessage).
    """
    message = chat.messages.get(message_id)
    if message is None or call.world.now() - message.date > DELETE_WINDOW_SECONDS:
        return None
    return message


def _delete(chat: Chat, message: Message) -> None:
    del chat.messages[message.message_id]
    chat.record("deleted", message_id=message.message_id)


def _update_types(call: Call) -> frozenset[str] | None:
    value = call.params.json("allowed_updates", what="allowed updates")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
        raise bad_request("can't parse allowed updates JSON array")
    # An empty list means "the default set"; unknown names are ignored, as Telegram does.
    return frozenset(value) & ALL_UPDATE_TYPES or DEFAULT_UPDATE_TYPES


def _editable(call: Call, chat: Chat) -> Message:
    message = chat.messages.get(_message_id(call))
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


def _edited(call: Call, chat: Chat, message: Message) -> Any:
    message.edit_date = call.world.now()
    chat.record("edited", message_id=message.message_id)
    return chat.message_to_api(message)


# --- identity and updates ---


@bot_method("getMe")
async def get_me(call: Call) -> Any:
    """The bot's own ``User`` with the capability flags getMe adds."""
    return {
        **call.bot.to_api(),
        "can_join_groups": False,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@bot_method("getUpdates")
async def get_updates(call: Call) -> Any:
    """Confirm updates before ``offset`` and return pending ones, waiting up to ``timeout``.

    A second concurrent getUpdates ends the first with 409, as Telegram does when two bot
    instances poll with one token; while a webhook is set, polling is refused with 409.
    """
    bot = call.bot
    if bot.webhook is not None:
        raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                            "use deleteWebhook to delete the webhook first")
    offset = call.params.integer("offset")
    limit = min(max(call.params.integer("limit") or 100, 1), 100)
    timeout = min(max(call.params.integer("timeout") or 0, 0), MAX_LONG_POLL_SECONDS)
    if (types := _update_types(call)) is not None:
        bot.allowed_updates = types
    if offset is not None:
        bot.confirm(offset)
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.updates_changed.notify()  # ends an earlier poll, which then answers 409
    await bot.updates_changed.wait_until(
        lambda: bool(bot.pending) or bot.poll_generation != generation or call.abandoned,
        timeout,
    )
    if bot.poll_generation != generation:
        raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that "
                            "only one bot instance is running")
    return bot.pending[:limit]


@bot_method("setWebhook")
async def set_webhook(call: Call) -> Any:
    """Set (or with an empty url, remove) the webhook; only loopback receivers are accepted."""
    bot = call.bot
    url = call.params.text("url") or ""
    if not url:
        return await delete_webhook(call)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
    if not _is_loopback(parts.hostname):
        # Never deliver outside this machine: updates carry what reporters wrote.
        raise bad_request("bad webhook: this local server delivers to loopback addresses only")
    secret = call.params.text("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    if call.params.boolean("drop_pending_updates"):
        bot.pending.clear()
    if (types := _update_types(call)) is not None:
        bot.allowed_updates = types
    bot.webhook = Webhook(
        url=url,
        secret_token=secret,
        max_connections=call.params.integer("max_connections") or 40,
    )
    call.webhooks.start(bot)
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@bot_method("deleteWebhook")
async def delete_webhook(call: Call) -> Any:
    """Remove the webhook (polling works again), optionally dropping pending updates."""
    call.webhooks.stop(call.bot)
    call.bot.webhook = None
    if call.params.boolean("drop_pending_updates"):
        call.bot.pending.clear()
    return True


@bot_method("getWebhookInfo")
async def get_webhook_info(call: Call) -> Any:
    """The webhook's url (empty when polling), queue length and last delivery error."""
    bot = call.bot
    info: dict[str, Any] = {
        "url": bot.webhook.url if bot.webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.pending),
    }
    if bot.webhook is not None:
        info["max_connections"] = bot.webhook.max_connections
        info["allowed_updates"] = sorted(bot.allowed_updates)
        if bot.webhook.last_error_date is not None:
            info["last_error_date"] = bot.webhook.last_error_date
            info["last_error_message"] = bot.webhook.last_error_message
    return info


# --- messages ---


@bot_method("sendMessage", sends=True)
async def send_message(call: Call) -> Any:
    """Send text (≤ 4096 characters after entity parsing) with an optional keyboard."""
    chat = writable_chat_of(call)
    text, entities = parse_text(
        call.params.text("text") or "",
        call.params.text("parse_mode"),
        call.params.json("entities", what="entities"),
        limit=MAX_TEXT_LENGTH,
        empty="message text is empty",
        too_long="message is too long",
    )
    markup = _reply_markup(call)
    reply_to = _reply_target(call, chat)
    preview = call.params.json("link_preview_options", what="link preview options")
    message = Message(
        message_id=chat.new_message_id(),
        date=call.world.now(),
        from_bot=True,
        text=text,
        entities=entities,
        reply_to=reply_to,
        link_preview_options=preview if isinstance(preview, dict) else None,
    )
    return _post(call, chat, message, markup)


@bot_method("sendDocument", sends=True)
async def send_document(call: Call) -> Any:
    """Send an uploaded file or an earlier file_id as a document, with an optional caption."""
    chat = writable_chat_of(call)
    source = call.params.file("document")
    if source is None:
        raise bad_request("there is no document in the request")
    stored = _stored_file(call, source)
    caption, caption_entities = _caption(call)
    markup = _reply_markup(call)
    message = Message(
        message_id=chat.new_message_id(),
        date=call.world.now(),
        from_bot=True,
        document=stored,
        caption=caption,
        caption_entities=caption_entities,
        reply_to=_reply_target(call, chat),
    )
    return _post(call, chat, message, markup)


@bot_method("editMessageText")
async def edit_message_text(call: Call) -> Any:
    """Replace a bot message's text; its inline keyboard is replaced (or removed) too."""
    chat = chat_of(call)
    message = _editable(call, chat)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    text, entities = parse_text(
        call.params.text("text") or "",
        call.params.text("parse_mode"),
        call.params.json("entities", what="entities"),
        limit=MAX_TEXT_LENGTH,
        empty="message text is empty",
        too_long="message is too long",
    )
    markup = _reply_markup(call, inline_only=True)
    if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
        raise bad_request(_NOT_MODIFIED)
    message.text, message.entities, message.reply_markup = text, entities, markup
    return _edited(call, chat, message)


@bot_method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> Any:
    """Replace (or without ``reply_markup``, remove) a bot message's inline keyboard."""
    chat = chat_of(call)
    message = _editable(call, chat)
    markup = _reply_markup(call, inline_only=True)
    if markup == message.reply_markup:
        raise bad_request(_NOT_MODIFIED)
    message.reply_markup = markup
    return _edited(call, chat, message)


@bot_method("deleteMessage")
async def delete_message(call: Call) -> Any:
    """Delete one message of the chat, or refuse with Telegram's reason."""
    chat = chat_of(call)
    message_id = _message_id(call)
    if message_id not in chat.messages:
        raise bad_request("message to delete not found")
    message = _deletable(call, chat, message_id)
    if message is None:
        raise bad_request("message can't be deleted")
    _delete(chat, message)
    return True


@bot_method("deleteMessages")
async def delete_messages(call: Call) -> Any:
    """Delete 1–100 messages; those that cannot be found or deleted are skipped."""
    chat = chat_of(call)
    ids = call.params.json("message_ids", what="message identifiers")
    if ids is None or ids == []:
        raise bad_request("message identifiers are not specified")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise bad_request("can't parse message identifiers JSON object")
    if len(ids) > MAX_DELETE_BATCH:
        raise bad_request("too many message identifiers specified")
    for message_id in ids:
        if (message := _deletable(call, chat, message_id)) is not None:
            _delete(chat, message)
    return True


@bot_method("sendChatAction")
async def send_chat_action(call: Call) -> Any:
    """Show "typing…" or similar to the user for a few seconds."""
    chat = writable_chat_of(call)
    action = call.params.required_text("action", "action is empty")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.record("chat_action", action=action)
    return True


@bot_method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> Any:
    """Answer a button press once; the optional text is shown to the user."""
    query_id = call.params.required_text("callback_query_id", "query_id is empty")
    query = call.bot.callback_queries.get(query_id)
    if query is None or query.answered:
        raise bad_request(
            "query is too old and response timeout expired or query ID is invalid"
        )
    text = call.params.text("text")
    if text is not None and len(text) > MAX_ANSWER_TEXT_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answered = True
    query.answer_text = text
    query.show_alert = call.params.boolean("show_alert")
    query.chat.record("callback_answered", query_id=query_id, message_id=query.message_id)
    return True


# --- files ---


@bot_method("getFile")
async def get_file(call: Call) -> Any:
    """Give a ``file_path`` to download a file of up to 20 MB for the next hour."""
    file_id = call.params.required_text("file_id", "file_id is empty")
    stored = call.world.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > MAX_DOWNLOAD_BYTES:
        raise bad_request("file is too big")
    extension = _extension(stored)
    path = f"{stored.folder}/file_{len(call.bot.file_paths)}{extension}"
    call.bot.file_paths[path] = (stored, call.world.clock.now() + FILE_PATH_LIFETIME)
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": path,
    }


def _extension(stored: StoredFile) -> str:
    if stored.folder == "photos":
        return ".jpg"
    if stored.folder == "voice":
        return ".oga"
    suffix = (stored.file_name or "").rpartition(".")[2]
    return f".{suffix}" if suffix and suffix != stored.file_name else ""


# --- commands and session ---


def _commands_key(call: Call) -> tuple[str, str]:
    scope = call.params.json("scope", what="bot command scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), call.params.text("language_code") or ""


@bot_method("setMyCommands")
async def set_my_commands(call: Call) -> Any:
    """Set the command list for a scope and language."""
    commands = call.params.json("commands", what="bot commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND_NAME.fullmatch(
            str(command.get("command", "")).lower()
        ):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    call.bot.commands[_commands_key(call)] = [
        {"command": str(c["command"]).lower(), "description": str(c["description"])}
        for c in commands
    ]
    return True


@bot_method("getMyCommands")
async def get_my_commands(call: Call) -> Any:
    """The command list of a scope and language (empty if none was set)."""
    return call.bot.commands.get(_commands_key(call), [])


@bot_method("deleteMyCommands")
async def delete_my_commands(call: Call) -> Any:
    """Remove the command list of a scope and language."""
    call.bot.commands.pop(_commands_key(call), None)
    return True


@bot_method("close")
async def close(call: Call) -> Any:
    """Accepted and ignored: there is no other server instance to hand over to."""
    return True


@bot_method("logOut")
async def log_out(call: Call) -> Any:
    """Accepted and ignored: there is no cloud server to log out from."""
    return True
