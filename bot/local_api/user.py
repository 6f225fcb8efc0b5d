"""The test side: act as a Telegram user in a private chat, and see the chat as they see it.

:class:`UserChat` is what a test (or the ``sanad try`` page, through the ``/_local`` routes)
holds: it sends text, commands, photos, documents and voice notes to the bot, presses inline
buttons (or forges presses a real client could only send in a race), blocks the bot, and reads
what is still in the chat — deleted messages are gone, as on the user's phone (DESIGN.md, I7).

Files are kept as Telegram delivers them to a bot: new ``file_id`` and ``file_unique_id``, the
size, the MIME type and name the client reports, a photo in several sizes (smaller JPEG copies
and the image itself as the largest), a voice note with its duration. A user file larger than the
server's upload limit is refused with :class:`FileTooLarge`: Telegram takes far larger files from
people, but this server holds every file in memory.

Waiting is event-driven: :meth:`UserChat.wait_for` wakes on each change of the chat instead of
sleeping in a loop.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from bot.local_api.errors import LocalApiUsageError
from bot.local_api.formatting import detect_entities
from bot.local_api.state import CallbackQuery, Chat, Message, StoredFile, World

# Telegram offers a photo in several sizes; these are the longest sides of the smaller ones.
_PHOTO_SIDES = (90, 320, 800)
# Opus counts time in 48 kHz samples whatever the input rate (RFC 7845, granule position).
_OPUS_GRANULE_RATE = 48_000
_KILOBYTE = 1024


class FileTooLarge(LocalApiUsageError):
    """A file the simulated user sends is over the server's upload limit."""


def ogg_opus_seconds(content: bytes) -> int | None:
    """The duration of an Ogg Opus voice note, in whole seconds as Telegram reports it.

    Read as a client reads it: the last page's granule position less the pre-skip of the
    ``OpusHead`` header (RFC 7845). ``None`` when ``content`` is not an Ogg Opus stream.
    """
    head = content.find(b"OpusHead", 0, 512)
    last = content.rfind(b"OggS")
    if not content.startswith(b"OggS") or head < 0 or len(content) < max(head + 12, last + 14):
        return None
    pre_skip = int.from_bytes(content[head + 10 : head + 12], "little")
    granule = int.from_bytes(content[last + 6 : last + 14], "little", signed=True)
    samples = granule - pre_skip
    return max(1, round(samples / _OPUS_GRANULE_RATE)) if samples > 0 else 0


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file in a message, described without its bytes (see :meth:`UserChat.download`)."""

    file_id: str
    size: int
    file_name: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A message still present in the chat, as the user's client shows it."""

    message_id: int
    from_bot: bool
    date: int
    text: str | None
    caption: str | None
    buttons: tuple[tuple[Button, ...], ...]
    document: Attachment | None
    photo: Attachment | None  # the largest size
    voice: Attachment | None
    edited: bool
    reply_to: int | None

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form for the ``/_local`` routes."""
        return asdict(self)


def view_of(message: Message) -> ChatMessage:
    """What the user sees of ``message``."""
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    buttons = tuple(
        tuple(Button(b["text"], b.get("callback_data"), b.get("url")) for b in row) for row in rows
    )
    return ChatMessage(
        message_id=message.message_id,
        from_bot=message.from_bot,
        date=message.date,
        text=message.text,
        caption=message.caption,
        buttons=buttons,
        document=_attachment(message.document),
        photo=_attachment(message.photo[-1] if message.photo else None),
        voice=_attachment(message.voice),
        edited=message.edit_date is not None,
        reply_to=message.reply_to.message_id if message.reply_to else None,
    )


def _attachment(stored: StoredFile | None) -> Attachment | None:
    if stored is None:
        return None
    return Attachment(stored.file_id, stored.size, stored.file_name, stored.mime_type)


class UserChat:
    """One user's private chat with one bot, driven from the test side.

    Every action returns once the update is queued for the bot; the bot receives it on its next
    getUpdates (or webhook delivery).
    """

    def __init__(self, world: World, chat: Chat) -> None:
        self._world = world
        self._chat = chat

    @property
    def chat_id(self) -> int:
        """The chat id (equal to the user id)."""
        return self._chat.id

    @property
    def version(self) -> int:
        """The chat's event counter; it only grows."""
        return self._chat.version

    @property
    def blocked(self) -> bool:
        """Whether the user has blocked the bot."""
        return self._chat.blocked

    # --- acting as the user ---

    async def send_text(self, text: str) -> ChatMessage:
        """Send a text message; commands and links in it get their entities as in Telegram."""
        if not text.strip():
            raise LocalApiUsageError("a Telegram client does not send empty messages")
        return self._send(Message(
            message_id=self._chat.new_message_id(),
            date=self._world.now(),
            from_bot=False,
            text=text,
            entities=detect_entities(text, []),
        ))

    async def send_command(self, command: str, arguments: str = "") -> ChatMessage:
        """Send ``/command arguments`` (the leading slash is optional)."""
        text = "/" + command.removeprefix("/")
        return await self.send_text(f"{text} {arguments}".rstrip())

    async def send_photo(self, content: bytes, caption: str | None = None) -> ChatMessage:
        """Send an image as a photo: the bot gets several sizes, the largest being ``content``.

        The largest size keeps the bytes as sent, metadata included, so that the bot's own
        cleaning is what a test sees work (Telegram's apps usually re-encode a photo first).
        Raises ``LocalApiUsageError`` if the bytes are not an image (a client would refuse),
        :class:`FileTooLarge` over the upload limit.
        """
        self._check_size(content)
        try:
            with Image.open(io.BytesIO(content)) as image:
                width, height = image.size
                sizes = [self._smaller(image, side) for side in _PHOTO_SIDES
                         if side < max(width, height)]
        except (UnidentifiedImageError, OSError) as exc:
            raise LocalApiUsageError("these bytes are not an image a client sends as a photo") \
                from exc
        sizes.append(self._world.store_file(content, "photos", width=width, height=height))
        return self._send(Message(
            message_id=self._chat.new_message_id(),
            date=self._world.now(),
            from_bot=False,
            photo=sizes,
            caption=caption,
        ))

    def _smaller(self, image: Image.Image, side: int) -> StoredFile:
        copy = image.convert("RGB")
        copy.thumbnail((side, side))
        out = io.BytesIO()
        copy.save(out, "JPEG", quality=80)
        return self._world.store_file(
            out.getvalue(), "photos", width=copy.width, height=copy.height
        )

    async def send_document(
        self, content: bytes, file_name: str, mime_type: str, caption: str | None = None
    ) -> ChatMessage:
        """Send a file as a document, with the name and MIME type the client reports.

        Raises :class:`FileTooLarge` over the upload limit.
        """
        stored = self._user_file(content, "documents", file_name=file_name, mime_type=mime_type)
        return self._send(Message(
            message_id=self._chat.new_message_id(),
            date=self._world.now(),
            from_bot=False,
            document=stored,
            caption=caption,
        ))

    async def send_voice(
        self, content: bytes, duration: int | None = None, mime_type: str = "audio/ogg"
    ) -> ChatMessage:
        """Send a voice note of ``duration`` seconds (read from the Ogg Opus stream if not given).

        Raises ``LocalApiUsageError`` without a duration for bytes that are not Ogg Opus,
        :class:`FileTooLarge` over the upload limit.
        """
        if duration is None:
            duration = ogg_opus_seconds(content)
            if duration is None:
                raise LocalApiUsageError("give the duration: these bytes are not an Ogg Opus "
                                         "voice note")
        stored = self._user_file(content, "voice", mime_type=mime_type, duration=duration)
        return self._send(Message(
            message_id=self._chat.new_message_id(),
            date=self._world.now(),
            from_bot=False,
            voice=stored,
        ))

    async def press_button(
        self, message_id: int, *, text: str | None = None, callback_data: str | None = None
    ) -> str:
        """Press the inline button with this ``text`` or ``callback_data`` on a bot message.

        Returns the callback query id. Raises ``LocalApiUsageError`` if the message is gone or
        has no such button, because a real client cannot press it then.
        """
        message = self._chat.messages.get(message_id)
        if message is None or not message.from_bot:
            raise LocalApiUsageError("there is no such bot message in the chat to press on")
        for row in (message.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if "callback_data" in button and (
                    button["text"] == text or button["callback_data"] == callback_data
                ):
                    return self._press(message_id, button["callback_data"])
        raise LocalApiUsageError("the message has no such callback button")

    async def forge_press(self, message_id: int, callback_data: str) -> str:
        """Send a callback query no current button carries: stale, deleted or forged data.

        Clients can race a keyboard change, and a hostile client can send any data; the bot
        must cope. For a message no longer in the chat, the query carries an inaccessible
        message (``date`` 0), as Telegram sends it.
        """
        return self._press(message_id, callback_data)

    async def block(self) -> None:
        """Block the bot: its sends fail with 403 and it gets a ``my_chat_member`` update."""
        self._set_blocked(True)

    async def unblock(self) -> None:
        """Unblock the bot (the client's "Restart")."""
        self._set_blocked(False)

    # --- reading the chat ---

    def messages(self) -> list[ChatMessage]:
        """The messages still in the chat, oldest first."""
        return [view_of(m) for m in sorted(self._chat.messages.values(),
                                           key=lambda m: m.message_id)]

    def bot_messages(self) -> list[ChatMessage]:
        """The bot's messages still in the chat, oldest first."""
        return [m for m in self.messages() if m.from_bot]

    def download(self, message: ChatMessage) -> bytes:
        """The bytes of the document, photo or voice note in ``message`` (must still exist)."""
        present = self._chat.messages.get(message.message_id)
        if present is None:
            raise LocalApiUsageError("the message is no longer in the chat")
        stored = present.document or present.voice or (present.photo[-1] if present.photo else None)
        if stored is None:
            raise LocalApiUsageError("the message has no file")
        return stored.content

    def callback_answer(self, query_id: str) -> tuple[str | None, bool] | None:
        """The answer shown for a press, as (text, show_alert), or ``None`` if unanswered."""
        query = self._chat.bot.callback_queries.get(query_id)
        if query is None or not query.answered:
            return None
        return query.answer_text, query.show_alert

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """The chat's events with a version above ``since``, oldest first.

        A ``callback_answered`` event carries what the user's app showed: ``text`` (``None``
        for a silent answer) and ``show_alert`` (a dialog rather than a brief notice).
        """
        return [self._described(e) for e in self._chat.events if e["version"] > since]

    def _described(self, recorded: dict[str, Any]) -> dict[str, Any]:
        described = dict(recorded)
        if described["kind"] == "callback_answered":
            answer = self.callback_answer(described["query_id"])
            described["text"], described["show_alert"] = answer or (None, False)
        return described

    def snapshot(self) -> dict[str, Any]:
        """The whole chat as plain JSON: user, flags, version and the visible messages."""
        keyboard = self._chat.reply_keyboard
        return {
            "chat_id": self.chat_id,
            "bot": self._chat.bot.username,
            "user": self._chat.user.to_api(),
            "blocked": self._chat.blocked,
            "version": self._chat.version,
            "messages": [m.to_json() for m in self.messages()],
            "reply_keyboard": keyboard["keyboard"] if keyboard else None,
        }

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a test-facing deadline, not a cancellation scope
        """Return once ``condition()`` holds, re-checked at each change of the chat.

        Raises ``TimeoutError`` if it does not hold within ``timeout`` seconds.
        """
        if not await self._chat.changed.wait_until(condition, timeout):
            raise TimeoutError("the chat did not reach the expected state in time")

    async def wait_for(
        self,
        predicate: Callable[[ChatMessage], bool] = lambda message: True,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test-facing deadline
        since: int | None = None,
    ) -> ChatMessage:
        """The first bot message, sent or edited after version ``since``, matching ``predicate``.

        ``since`` defaults to the version right after the user's latest action, so
        ``await chat.send_text(...); await chat.wait_for(...)`` sees only the answer to it.
        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        after = self._chat.last_user_action if since is None else since
        found: list[ChatMessage] = []

        def match() -> bool:
            touched = {e["message_id"] for e in self._chat.events
                       if e["version"] > after and e["kind"] in ("message", "edited")}
            for message_id in sorted(touched):
                message = self._chat.messages.get(message_id)
                if message is not None and message.from_bot and predicate(view := view_of(message)):
                    found.append(view)
                    return True
            return False

        await self.wait_until(match, timeout)
        return found[0]

    # --- internals ---

    def _check_size(self, content: bytes) -> None:
        limit = self._world.max_upload_bytes
        if len(content) > limit:
            raise FileTooLarge(
                f"the file is {_size_text(len(content))}; this server takes files of up to "
                f"{_size_text(limit)} from a user (it keeps them in memory)"
            )

    def _user_file(self, content: bytes, folder: str, **details: Any) -> StoredFile:
        """Store a file the user sends, once its size is checked."""
        self._check_size(content)
        return self._world.store_file(content, folder, **details)

    def _usable(self) -> None:
        if self._chat.blocked:
            raise LocalApiUsageError("the user has blocked the bot; unblock it first")

    def _send(self, message: Message) -> ChatMessage:
        self._usable()
        self._chat.started = True
        self._chat.messages[message.message_id] = message
        self._chat.last_user_action = self._chat.record(
            "message", message_id=message.message_id, from_bot=False
        )
        self._chat.bot.enqueue("message", self._chat.message_to_api(message))
        return view_of(message)

    def _press(self, message_id: int, callback_data: str) -> str:
        self._usable()
        query_id = str(self._world.random_int(63))
        message = self._chat.messages.get(message_id)
        if message is not None:
            shown = self._chat.message_to_api(message)
        else:  # InaccessibleMessage: Telegram no longer has it to show
            shown = {"chat": self._chat.user.to_chat(), "message_id": message_id, "date": 0}
        self._chat.bot.callback_queries[query_id] = CallbackQuery(self._chat, message_id)
        self._chat.last_user_action = self._chat.record(
            "pressed", message_id=message_id, query_id=query_id
        )
        self._chat.bot.enqueue("callback_query", {
            "id": query_id,
            "from": self._chat.user.to_api(),
            "message": shown,
            "chat_instance": str(self._chat.bot.id ^ self._chat.id),
            "data": callback_data,
        })
        return query_id

    def _set_blocked(self, blocked: bool) -> None:
        if self._chat.blocked == blocked:
            return
        self._chat.blocked = blocked
        self._chat.last_user_action = self._chat.record("blocked" if blocked else "unblocked")
        bot_member = {"user": self._chat.bot.to_api()}
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        self._chat.bot.enqueue("my_chat_member", {
            "chat": self._chat.user.to_chat(),
            "from": self._chat.user.to_api(),
            "date": self._world.now(),
            "old_chat_member": {**bot_member, "status": old, **_until(old)},
            "new_chat_member": {**bot_member, "status": new, **_until(new)},
        })


def _size_text(size: int) -> str:
    if size < _KILOBYTE:
        return f"{size} bytes"
    if size < _KILOBYTE * _KILOBYTE:
        return f"{size / _KILOBYTE:.1f} KB"
    return f"{size / _KILOBYTE / _KILOBYTE:.1f} MB"


def _until(status: str) -> dict[str, int]:
    # ChatMemberBanned requires until_date; 0 means "forever".
    return {"until_date": 0} if status == "kicked" else {}
