"""The world the local Bot API server simulates: bots, private chats, messages, files, updates.

Everything lives in process memory and dies with it: files may be sealed evidence and chats
hold what reporters wrote, so nothing here is ever written to disk (DESIGN.md, I1). All of it
is touched only from the server's event loop; the HTTP handlers and the test-side API in
:mod:`bot.local_api.user` are the two ways in.

Only private chats exist, because Sanad only talks to people one to one: a chat's id is the
user's id, as in Telegram.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.local_api.clock import Clock

# Update types delivered when a bot has never said which it wants (Bot API, getUpdates).
DEFAULT_UPDATE_TYPES = frozenset(
    {"message", "edited_message", "callback_query", "my_chat_member", "inline_query"}
)
# Telegram keeps file paths usable for at least an hour after getFile.
FILE_PATH_LIFETIME = 3600.0
# How often a waiter re-checks its condition between changes of its chat.
RECHECK_SECONDS = 0.05


class Signal:
    """Wakes every waiter when something changed; waiters re-check their own condition.

    Notifying is synchronous, so state changes made outside a coroutine can still wake
    long polls and ``wait_for`` callers without sleeping in a loop.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting now; later waiters wait for the next change."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        """Return at the next :meth:`notify`."""
        await self._event.wait()

    async def wait_until(self, condition: Callable[[], bool], within: float) -> bool:
        """Wait until ``condition()`` holds, re-checking at each change and every
        :data:`RECHECK_SECONDS` (a condition may read what no change of this chat announces,
        such as what the bot recorded); ``False`` after ``within`` seconds without it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            # Take the event before checking, so a change between the check and the wait
            # (wait_for starts its task later) still wakes us: no lost wake-up.
            event = self._event
            if condition():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, RECHECK_SECONDS))


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A Telegram user as bots see them."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The Bot API ``User`` object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                user[key] = value
        return user

    def to_chat(self) -> dict[str, Any]:
        """The Bot API ``Chat`` object of this user's private chat with a bot."""
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        for key in ("last_name", "username"):
            if (value := getattr(self, key)) is not None:
                chat[key] = value
        return chat


@dataclass(eq=False, slots=True)
class StoredFile:
    """One file in memory: its ids, bytes and what Telegram reports about it."""

    file_id: str
    file_unique_id: str
    content: bytes = field(repr=False)  # may be sealed evidence: never in a repr or a log
    folder: str  # first segment of its file_path: documents, photos, voice
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None

    @property
    def size(self) -> int:
        """Size in bytes, as ``file_size``."""
        return len(self.content)

    def to_api(self) -> dict[str, Any]:
        """The Bot API object for this file (Document, PhotoSize or Voice fields)."""
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        for key in ("file_name", "mime_type", "width", "height", "duration"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass(eq=False, slots=True)
class Message:
    """A message present in a chat; deleting it removes it from :attr:`Chat.messages`."""

    message_id: int
    date: int
    from_bot: bool
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    document: StoredFile | None = None
    photo: list[StoredFile] | None = None
    voice: StoredFile | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: Message | None = None
    edit_date: int | None = None
    link_preview_options: dict[str, Any] | None = None


@dataclass(eq=False)
class Chat:
    """A private chat between one user and one bot, with a version counter for observers."""

    bot: BotState
    user: UserProfile
    messages: dict[int, Message] = field(default_factory=dict)
    started: bool = False  # the user has written to the bot (a bot cannot write first)
    blocked: bool = False
    reply_keyboard: dict[str, Any] | None = None  # the custom keyboard the user sees, if any
    version: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: Signal = field(default_factory=Signal)
    last_user_action: int = 0  # version after the user's latest action, for ``wait_for``
    _next_message_id: int = 1

    @property
    def id(self) -> int:
        """The chat id, equal to the user id in a private chat."""
        return self.user.id

    def new_message_id(self) -> int:
        """The next id; user and bot messages share one sequence in a private chat."""
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def record(self, kind: str, **data: Any) -> int:
        """Append an event, bump the version and wake observers; returns the new version."""
        self.version += 1
        self.events.append({"version": self.version, "kind": kind, **data})
        self.changed.notify()
        return self.version

    def message_to_api(self, message: Message) -> dict[str, Any]:
        """The Bot API ``Message`` object for ``message``, as the bot receives it."""
        sender = self.bot.to_api() if message.from_bot else self.user.to_api()
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": sender,
            "chat": self.user.to_chat(),
            "date": message.date,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.reply_to is not None:
            data["reply_to_message"] = self.message_to_api(message.reply_to)
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.caption is not None:
            data["caption"] = message.caption
            if message.caption_entities:
                data["caption_entities"] = message.caption_entities
        if message.document is not None:
            data["document"] = message.document.to_api()
        if message.photo is not None:
            data["photo"] = [size.to_api() for size in message.photo]
        if message.voice is not None:
            data["voice"] = message.voice.to_api()
        if message.reply_markup is not None and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.link_preview_options is not None:
            data["link_preview_options"] = message.link_preview_options
        return data


@dataclass(eq=False, slots=True)
class CallbackQuery:
    """A button press waiting for ``answerCallbackQuery``; the answer is shown to the user."""

    chat: Chat
    message_id: int
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False


@dataclass(slots=True)
class Webhook:
    """A bot's webhook settings and delivery status, as ``getWebhookInfo`` reports them."""

    url: str
    secret_token: str | None = field(default=None, repr=False)
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


class BotState:
    """One registered bot: identity, its chats, its update queue and its settings."""

    def __init__(self, token: str, bot_id: int, username: str, first_name: str) -> None:
        self.token = token
        self.id = bot_id
        self.username = username
        self.first_name = first_name
        self.chats: dict[int, Chat] = {}
        self.pending: list[dict[str, Any]] = []
        self.next_update_id = 1
        self.allowed_updates = DEFAULT_UPDATE_TYPES
        self.webhook: Webhook | None = None
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.file_paths: dict[str, tuple[StoredFile, float]] = {}
        self.updates_changed = Signal()
        self.poll_generation = 0

    def __repr__(self) -> str:  # the token is a credential
        return f"BotState(id={self.id}, username={self.username!r})"

    def to_api(self) -> dict[str, Any]:
        """The bot's own ``User`` object, as in messages it sends."""
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        """Queue an update unless the bot asked not to receive this kind (allowed_updates)."""
        if kind not in self.allowed_updates:
            return
        self.pending.append({"update_id": self.next_update_id, kind: payload})
        self.next_update_id += 1
        self.updates_changed.notify()

    def confirm(self, offset: int) -> None:
        """Forget updates before ``offset``; a negative offset keeps only the last ``-offset``."""
        if offset < 0:
            self.pending = self.pending[offset:]
        else:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]


class World:
    """All bots and files of one server; ids are drawn from a seeded generator."""

    def __init__(self, clock: Clock, seed: int, *, max_upload_bytes: int) -> None:
        self.clock = clock
        # The largest file a bot may upload: a sendDocument over it is refused with 413.
        self.max_upload_bytes = max_upload_bytes
        self.bots: dict[str, BotState] = {}
        self.files: dict[str, StoredFile] = {}
        self._random = random.Random(seed)  # noqa: S311 - a test double's ids, reproducible # nosec B311

    def now(self) -> int:
        """The current Unix time in whole seconds, as Telegram dates are."""
        return int(self.clock.now())

    def random_id(self, size: int) -> str:
        """A URL-safe random identifier of ``size`` bytes of the seeded generator."""
        return base64.urlsafe_b64encode(self._random.randbytes(size)).decode().rstrip("=")

    def random_int(self, bits: int) -> int:
        """A non-negative integer of at most ``bits`` bits."""
        return self._random.getrandbits(bits)

    def store_file(self, content: bytes, folder: str, **details: Any) -> StoredFile:
        """Keep ``content`` in memory under new file ids and return its record."""
        stored = StoredFile(
            file_id=self.random_id(36),
            file_unique_id=self.random_id(12),
            content=content,
            folder=folder,
            **details,
        )
        self.files[stored.file_id] = stored
        return stored

    def chats(self) -> Iterable[Chat]:
        """Every chat of every bot."""
        for bot in self.bots.values():
            yield from bot.chats.values()
