"""Read-only views and user actions over plain JSON, for the ``sanad try`` page and scripts.

Routes (all under ``/_local``, loopback only; POST bodies must be ``application/json``, which a
foreign web page cannot send without a CORS preflight that is never granted):

- ``GET  /_local/chats`` — every chat: ``{"chats": [{chat_id, bot, user, version}]}``
- ``POST /_local/chats`` ``{"user_id", "first_name", "language_code"?, "bot"?}`` — open a chat
- ``GET  /_local/chats/{id}`` — the chat snapshot (see :meth:`UserChat.snapshot`)
- ``GET  /_local/chats/{id}/events?since=N&wait=S`` — events after version N, waiting up to S
  seconds for one: ``{"version", "events"}``
- ``POST /_local/chats/{id}/messages`` ``{"text"}`` — the user sends text
- ``POST /_local/chats/{id}/files?kind=K`` — the user sends a file; the body is its bytes as
  ``application/octet-stream``. ``kind`` is ``photo``, ``document`` (with ``file_name`` and
  ``mime_type``) or ``voice`` (``duration`` in seconds, read from an Ogg Opus stream if left
  out); ``caption`` is optional for a photo or a document. A file over the server's upload
  limit is answered ``413`` with the reason.
- ``POST /_local/chats/{id}/press`` ``{"message_id", "callback_data"}`` — the user presses a button
- ``GET  /_local/chats/{id}/messages/{message_id}/file`` — the bytes of a file in the chat

``bot`` (a bot username, as a query parameter or body field) is needed only when several bots
are registered. Events of a button press answered by the bot carry the answer's ``text`` and
``show_alert``: the brief notice or dialog the user's app showed.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from tornado.routing import URLSpec

from bot.local_api.errors import LocalApiUsageError
from bot.local_api.user import FileTooLarge
from bot.local_api.web import JsonHandler

if TYPE_CHECKING:
    from bot.local_api.server import LocalBotApi
    from bot.local_api.user import ChatMessage, UserChat

MAX_EVENT_WAIT_SECONDS = 30.0
# The one body type of a file upload: not one a foreign web page may send without a preflight.
_FILE_BODY_TYPE = "application/octet-stream"


class _LocalHandler(JsonHandler):
    def initialize(self, api: LocalBotApi) -> None:
        self.api = api

    def content_type(self) -> str:
        return self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def body(self) -> dict[str, Any]:
        """The JSON object posted, or a 400."""
        if self.content_type() != "application/json":
            raise LocalApiUsageError("POST bodies must be application/json")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise LocalApiUsageError("the body is not JSON") from None
        if not isinstance(body, dict):
            raise LocalApiUsageError("the body must be a JSON object")
        return body

    def bot_name(self, body: dict[str, Any] | None = None) -> str | None:
        name = (body or {}).get("bot") or self.get_query_argument("bot", None)
        return str(name) if name else None

    def user_chat(self, chat_id: str, body: dict[str, Any] | None = None) -> UserChat:
        return self.api.chat(int(chat_id), bot=self.bot_name(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Misuse (no such chat, a button that is not there) is a 400 with the reason, a file
        over the upload limit a 413."""
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, FileTooLarge):
            self.finish_json_error(413, str(error))
        elif isinstance(error, LocalApiUsageError):
            self.finish_json_error(400, str(error))
        else:
            super().write_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """A test's or page's misuse is answered, not logged as a server failure."""
        if not isinstance(value, LocalApiUsageError):
            super().log_exception(typ, value, tb)


class _ChatsHandler(_LocalHandler):
    def get(self) -> None:
        summaries = [chat.snapshot() for chat in self.api.chats(bot=self.bot_name())]
        chats = [{key: s[key] for key in ("chat_id", "bot", "user", "version")} for s in summaries]
        self.send_json(200, {"chats": chats})

    async def post(self) -> None:
        body = self.body()
        try:
            user_id = int(body["user_id"])
            first_name = str(body["first_name"])
        except (KeyError, TypeError, ValueError):
            raise LocalApiUsageError("user_id and first_name are required") from None
        language = body.get("language_code")
        chat = self.api.open_chat(
            user_id, first_name, language_code=str(language) if language else None,
            bot=self.bot_name(body),
        )
        self.send_json(200, chat.snapshot())


class _ChatHandler(_LocalHandler):
    def get(self, chat_id: str) -> None:
        self.send_json(200, self.user_chat(chat_id).snapshot())


class _EventsHandler(_LocalHandler):
    async def get(self, chat_id: str) -> None:
        chat = self.user_chat(chat_id)
        try:
            since = int(self.get_query_argument("since", "0"))
            wait = min(float(self.get_query_argument("wait", "0")), MAX_EVENT_WAIT_SECONDS)
        except ValueError:
            raise LocalApiUsageError("since and wait must be numbers") from None
        if wait > 0:
            # Nothing new within the wait is not an error: no events, and the page polls again.
            with contextlib.suppress(TimeoutError):
                await chat.wait_until(lambda: chat.version > since, wait)
        self.send_json(200, {"version": chat.version, "events": chat.events(since)})


class _MessagesHandler(_LocalHandler):
    async def post(self, chat_id: str) -> None:
        body = self.body()
        chat = self.user_chat(chat_id, body)
        message = await chat.send_text(str(body.get("text", "")))
        self.send_json(200, {"message": message.to_json(), "version": chat.version})


class _FilesHandler(_LocalHandler):
    async def post(self, chat_id: str) -> None:
        if self.content_type() != _FILE_BODY_TYPE:
            raise LocalApiUsageError(f"a file is posted as {_FILE_BODY_TYPE}")
        chat = self.user_chat(chat_id)
        content = self.request.body
        if not content:
            raise LocalApiUsageError("a Telegram client does not send empty files")
        message = await self._send(chat, self.get_query_argument("kind", ""), content)
        self.send_json(200, {"message": message.to_json(), "version": chat.version})

    async def _send(self, chat: UserChat, kind: str, content: bytes) -> ChatMessage:
        caption = self.get_query_argument("caption", None) or None
        if kind == "photo":
            return await chat.send_photo(content, caption=caption)
        if kind == "document":
            file_name = self.get_query_argument("file_name", "").strip()
            if not file_name:
                raise LocalApiUsageError("a document needs its file_name")
            mime_type = self.get_query_argument("mime_type", "") or _FILE_BODY_TYPE
            return await chat.send_document(content, file_name, mime_type, caption=caption)
        if kind == "voice":
            duration = self.get_query_argument("duration", None)
            try:
                seconds = int(duration) if duration is not None else None
            except ValueError:
                raise LocalApiUsageError("duration must be a whole number of seconds") from None
            return await chat.send_voice(content, seconds)
        raise LocalApiUsageError("kind must be photo, document or voice")


class _PressHandler(_LocalHandler):
    async def post(self, chat_id: str) -> None:
        body = self.body()
        chat = self.user_chat(chat_id, body)
        try:
            message_id = int(body["message_id"])
        except (KeyError, TypeError, ValueError):
            raise LocalApiUsageError("message_id is required") from None
        query_id = await chat.press_button(message_id, callback_data=str(body.get("callback_data")))
        self.send_json(200, {"query_id": query_id, "version": chat.version})


class _FileHandler(_LocalHandler):
    def get(self, chat_id: str, message_id: str) -> None:
        chat = self.user_chat(chat_id)
        message = next((m for m in chat.messages() if m.message_id == int(message_id)), None)
        if message is None:
            raise LocalApiUsageError("the message is no longer in the chat")
        content = chat.download(message)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", "attachment")
        self.set_header("Cache-Control", "no-store")
        self.finish(content)


def local_routes(api: LocalBotApi) -> list[URLSpec]:
    """The ``/_local`` routes bound to ``api``."""
    target = {"api": api}
    chat = r"/_local/chats/(-?\d+)"
    return [
        URLSpec(r"/_local/chats", _ChatsHandler, target),
        URLSpec(chat, _ChatHandler, target),
        URLSpec(chat + r"/events", _EventsHandler, target),
        URLSpec(chat + r"/messages", _MessagesHandler, target),
        URLSpec(chat + r"/files", _FilesHandler, target),
        URLSpec(chat + r"/press", _PressHandler, target),
        URLSpec(chat + r"/messages/(\d+)/file", _FileHandler, target),
    ]
