"""The in-memory draft of one report: answers, cleaned attachments, and messages to erase later.

I1: a draft lives in process memory only. It is never pickled (no PTB persistence), never logged
(its ``repr`` says how much it holds, not what), and :meth:`Draft.wipe` empties it — and zeroes
the attachment buffers, which are ``bytearray`` for that reason — when the report is submitted,
erased, forgotten or timed out. Python strings cannot be overwritten in place; wiping drops the
last reference so their memory is reused, which is the most CPython offers.

Size: without attachments a full draft stays under 50 KiB with ``max_text_chars`` up to 4096 —
the free text (at most 4 bytes per code point in CPython's representation), at most
:data:`~handlers.text_input.MAX_LINKS` links of at most
:data:`~handlers.text_input.MAX_LINK_CHARS` characters, and at most :data:`MAX_TRACKED_MESSAGES`
message ids packed as 64-bit integers. ``tests/handlers/test_draft.py`` measures it.
"""

from __future__ import annotations

import contextlib
from array import array
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from handlers.budget import Reservation
from handlers.i18n import DEFAULT_LANGUAGE

if TYPE_CHECKING:  # the cleaning worker imports this module: it starts faster without crypto
    from crypto.originals import OriginalFile

# Message ids kept for erasure before the flow erases what it has so far (see Draft.remember).
MAX_TRACKED_MESSAGES = 1024


class AttachmentKind(Enum):
    """What an evidence file is, decided from its content (handlers/evidence.py)."""

    IMAGE = "image"
    PDF = "pdf"
    VOICE = "voice"


@dataclass(eq=False)
class DraftAttachment:
    """One cleaned evidence file. ``data`` is a bytearray so :meth:`wipe` can zero it.

    ``reservation`` is the file's place in the bot-wide memory budget of open drafts
    (:class:`handlers.budget.MemoryBudget`), given back by :meth:`wipe`. ``original`` records the
    file as it was received — its SHA-256, size, type and what cleaning changed, never its
    bytes — to be sealed beside the cleaned copy (DESIGN.md §4, "Evidence integrity").
    """

    kind: AttachmentKind
    media_type: str
    filename: str
    data: bytearray = field(repr=False)
    reservation: Reservation | None = field(default=None, repr=False)
    original: OriginalFile | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.reservation is not None:
            # Should a draft ever be dropped without being wiped, its place still comes back.
            self.reservation.tie_to(self)

    def wipe(self) -> None:
        """Overwrite the bytes with zeros, release them unless a view still holds them, and give
        their place in the memory budget back."""
        self.data[:] = bytes(len(self.data))
        # A live memoryview (an upload in flight) pins the buffer; it is zeroed either way.
        with contextlib.suppress(BufferError):
            self.data.clear()
        if self.reservation is not None:
            self.reservation.release()


@dataclass(eq=False)
class Draft:
    """Everything the reporter has answered so far; ``None`` means not answered or skipped.

    Choices are stored as the flow's stable codes (``"doxxing"``, ``"facebook"``, a country code),
    never as translated labels, so a report reads the same whatever language it was written in.
    """

    language: str = DEFAULT_LANGUAGE
    in_danger: bool | None = None
    incident_type: str | None = None
    platform: str | None = None
    country: str | None = None
    year: str | None = None  # a year ("2025"), "earlier", or None for "I don't know"
    month: int | None = None
    what_happened: str | None = None
    links: list[str] = field(default_factory=list)
    attachments: list[DraftAttachment] = field(default_factory=list)
    platform_response: str | None = None
    wants_reply: bool | None = None
    advocacy_consent: bool | None = None
    # Flow bookkeeping, not part of the report. The chat id is needed to erase the chat, and is
    # held in memory only; it goes to storage only through HousekeepingPort, sealed (I2).
    chat_id: int | None = None
    editing: bool = False
    files_in_progress: int = 0
    _message_ids: array[int] = field(default_factory=lambda: array("q"))

    def __repr__(self) -> str:
        # I1: never the answers themselves, only their shape.
        return (
            f"Draft(language={self.language!r}, links={len(self.links)}, "
            f"attachments={len(self.attachments)}, messages={len(self._message_ids)})"
        )

    def remember(self, message_id: int) -> bool:
        """Record a message of this conversation for erasure; True once the record is full.

        When it is full the flow erases those messages at once and calls :meth:`take_messages`,
        so the record stays bounded however long the conversation runs.
        """
        if message_id not in self._message_ids:
            self._message_ids.append(message_id)
        return len(self._message_ids) >= MAX_TRACKED_MESSAGES

    def take_messages(self) -> list[int]:
        """The recorded message ids, oldest first; the record is emptied."""
        ids = self._message_ids.tolist()
        del self._message_ids[:]
        return ids

    @property
    def message_count(self) -> int:
        """How many message ids are recorded."""
        return len(self._message_ids)

    def wipe(self) -> None:
        """Forget every answer, zero every attachment, drop every message id."""
        self.clear_answers()
        del self._message_ids[:]
        self.chat_id = None

    def clear_answers(self) -> None:
        """Forget every answer and zero every attachment; keep the messages to erase."""
        for attachment in self.attachments:
            attachment.wipe()
        self.attachments.clear()
        self.links.clear()
        self.in_danger = self.wants_reply = self.advocacy_consent = None
        self.incident_type = self.platform = self.country = None
        self.platform_response = self.what_happened = None
        self.year = self.month = None
        self.editing = False
