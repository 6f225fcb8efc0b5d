"""Whose draft died with another process: known from the erase journal, kept in memory only.

When the erase job erases a row the erase journal stored for a conversation still open
(``bot.jobs.erase``), the process that held that conversation is gone (killed, or it lost its
leadership), and the draft with it (I1: drafts live in memory only). The chat is noted here so
that the reporter's next message gets "your unfinished report was lost"
(:mod:`handlers.lost_draft`) instead of a silent reset.

Nothing is written anywhere: the chat id comes from the sealed erase target, which the erase
job opens anyway, and is kept here only as a keyed BLAKE2b digest under a key drawn at start and
never stored, until that reporter's next message or :data:`KEEP` (the longest a housekeeping
row lives), at most :data:`LIMIT` of them. A restart forgets them all, as it forgets drafts.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

#: How long a lost draft is remembered: Telegram's 48-hour window for deleting messages, after
#: which the erase target that told of it is gone too.
KEEP = 48 * 3600.0
#: At most this many chats are remembered; the oldest go first (a flood cannot grow it).
LIMIT = 100_000


class LostDrafts:
    """The chats whose draft was lost, each told once (:meth:`claim`)."""

    def __init__(
        self, *, keep: float = KEEP, limit: int = LIMIT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._key = secrets.token_bytes(32)
        self._keep = keep
        self._limit = limit
        self._clock = clock
        self._noted: OrderedDict[bytes, float] = OrderedDict()

    def _digest(self, chat_id: int) -> bytes:
        return hashlib.blake2b(
            chat_id.to_bytes(8, "big", signed=True), key=self._key, digest_size=16
        ).digest()

    def note(self, chat_id: int) -> None:
        """The draft open in ``chat_id`` died with its process."""
        digest = self._digest(chat_id)
        self._noted.pop(digest, None)
        self._noted[digest] = self._clock() + self._keep
        while len(self._noted) > self._limit:
            self._noted.popitem(last=False)

    def claim(self, chat_id: int) -> bool:
        """True once per noted chat, while it is remembered: the reporter is to be told now."""
        until = self._noted.pop(self._digest(chat_id), None)
        return until is not None and until > self._clock()

    def __len__(self) -> int:
        return len(self._noted)
