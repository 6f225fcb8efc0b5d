"""The erase journal: message ids stored, sealed, as a conversation goes, so a hard stop erases too.

I7 says the phone keeps nothing, and a bot killed outright (SIGKILL, out of memory, power loss)
runs no clean-stop hand-over: before this journal, every open conversation stayed on the
reporters' phones. So every message id the flows record is also handed here
(:meth:`EraseJournal.journal`), buffered per chat in memory and stored by :meth:`flush` — every
:data:`FLUSH_SECONDS`, or at once when :data:`FLUSH_IDS` ids wait — as the existing sealed erase
targets (``crypto.seal_erase_target``, one row per 100 ids of one chat, the usual deadline).

- **Batched.** A flush is one transaction for every chat with new ids. A conversation's ids go
  into one row, rewritten in place with a fresh seal as it grows (a second row only past 100
  ids), so a conversation costs one small write every few seconds while it is active and one
  row (one ``deleteMessages`` call after a crash) in all; ``bench/conversation.py`` measures it.
- **Held while the conversation lives.** Its rows are held (:meth:`Housekeeping.hold`): this
  process's erase job leaves them alone. When the conversation ends the flow erases the chat
  itself and calls :meth:`settle`, which deletes the rows: the erase job does not redo them.
  The hold is memory only: after a hard stop the next process's first erase run, one second
  after start, erases every row the dead one left. What stays: the ids of the last
  :data:`FLUSH_SECONDS` before the stop, not yet stored.
- **Messages outside a conversation** (``/help`` and its answer, answers to free text, refusals,
  updates dropped under a flood) go through :meth:`erase_later`: stored by the same flush,
  held for :data:`OUTSIDE_HOLD` so they can be read, then erased by the erase job. A flow that
  empties the chat meanwhile (``/forget``, Erase, a finished report) takes them too
  (:meth:`outside_messages`), so the chat is empty when the reporter asked for it to be; their
  rows go with :meth:`settle`. Their ids are kept in memory per chat only until the hold ends.

Memory is bounded: at most :data:`MAX_WAITING` ids wait for a flush across all chats; past that
an id is counted and dropped (a flood of accounts must not grow the bot without end). A chat id
is a key here only while its conversation is open or its ids wait, as in PTB's own state (I2).
Several bot instances sharing one state directory would erase each other's live rows: each
holds only its own. On PostgreSQL only the leader holds conversations and runs the erase job
(:mod:`bot.leadership`), so its successor erases every row it left, and the rows stored for an
open conversation are marked so (``conversation``): the successor knows whose draft was lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.logs import event, get_logger
from bot.services.housekeeping import HELD, Housekeeping, StoredTarget
from crypto.housekeeping import MAX_MESSAGES

#: How often waiting ids are stored; the ids of this last stretch are what a hard stop leaves.
FLUSH_SECONDS = 3.0
#: A chat with this many ids waiting is stored at once rather than at the next tick.
FLUSH_IDS = 50
#: How long a message outside any conversation stays readable before the erase job takes it.
OUTSIDE_HOLD = dt.timedelta(minutes=2)
#: Ids waiting across all chats, at most (see the module docstring).
MAX_WAITING = 20_000

_log = get_logger("erase_journal")

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Conversation:
    """One open conversation's journal: its stored rows, the ids of the last, what waits."""

    rows: list[int] = field(default_factory=list)
    last_row_ids: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _OutsideRow:
    """A stored row of messages outside a conversation, held until ``until``."""

    row_id: int
    message_ids: tuple[int, ...]
    until: dt.datetime


@dataclass(frozen=True)
class _Planned:
    """A row a flush writes for an open conversation; ``taken``: waiting ids it stores first."""

    chat_id: int
    target: StoredTarget
    taken: int


@dataclass
class FlushCounts:
    """Flushes that wrote rows, and ids refused past :data:`MAX_WAITING` (counts only)."""

    flushes: int = 0
    dropped: int = 0


class EraseJournal:
    """The bot's :class:`handlers.ports.HousekeepingPort`: stored erasure, as it goes and after.

    Not thread-safe: call it from the event loop (handlers and jobs do).
    """

    def __init__(
        self,
        housekeeping: Housekeeping,
        *,
        flush_ids: int = FLUSH_IDS,
        outside_hold: dt.timedelta = OUTSIDE_HOLD,
        clock: Clock = _utc_now,
    ) -> None:
        self.housekeeping = housekeeping
        self._flush_ids = flush_ids
        self._outside_hold = outside_hold
        self._clock = clock
        self._open: dict[int, _Conversation] = {}
        self._outside: dict[int, list[int]] = {}
        self._outside_rows: dict[int, list[_OutsideRow]] = {}
        self._taken_outside: dict[int, tuple[set[int], list[_OutsideRow]]] = {}
        self._waiting = 0
        self._lock = asyncio.Lock()
        self._wake: Callable[[], object] = lambda: None
        self.counts = FlushCounts()
        self._dropped_logged = 0
        self._woken = False
        self._cut_short = False

    def on_full(self, wake: Callable[[], object]) -> None:
        """Call ``wake`` when a chat has :data:`FLUSH_IDS` ids waiting (it schedules a flush)."""
        self._wake = wake

    # -- the port ---------------------------------------------------------------------------

    async def keep_for_erasure(self, chat_id: int, message_ids: Sequence[int]) -> None:
        """Store ids the flow could not delete, due at the next erase run (see Housekeeping);
        after :meth:`cut_short`, marked as a conversation whose draft died."""
        await self.housekeeping.keep_for_erasure(
            chat_id, message_ids, conversation=self._cut_short
        )

    def cut_short(self) -> None:
        """The process is stopping: the conversations handed over from now on are cut short, and
        their drafts die with it; whoever erases them next tells their reporters
        (``bot.leadership.lost_drafts``)."""
        self._cut_short = True

    def journal(self, chat_id: int, message_id: int) -> None:
        """Record a message of the conversation open in ``chat_id``; stored within seconds."""
        conversation = self._open.setdefault(chat_id, _Conversation())
        if message_id in conversation.waiting or message_id in conversation.last_row_ids:
            return  # an edited message, recorded again: already there
        if self._admit():
            conversation.waiting.append(message_id)
            if len(conversation.waiting) >= self._flush_ids:
                self._wake_once()

    def erase_later(self, chat_id: int, message_ids: Sequence[int]) -> None:
        """Record messages outside any conversation: erased after :data:`OUTSIDE_HOLD`."""
        waiting = self._outside.setdefault(chat_id, [])
        for message_id in message_ids:
            if message_id not in waiting and self._admit():
                waiting.append(message_id)
        if not waiting:
            del self._outside[chat_id]
        elif len(waiting) >= self._flush_ids:
            self._wake_once()

    def outside_messages(self, chat_id: int) -> list[int]:
        """The messages outside a conversation in ``chat_id`` not erased yet (waiting for a
        flush, or stored and held so they can be read). The caller erases them now with its
        own and then calls :meth:`settle`, which drops exactly these."""
        rows = [row for row in self._outside_rows.get(chat_id, []) if row.until > self._clock()]
        waiting = list(self._outside.get(chat_id, []))
        stored = [message_id for row in rows for message_id in row.message_ids]
        self._taken_outside[chat_id] = (set(waiting), rows)
        return stored + waiting

    async def settle(self, chat_id: int) -> None:
        """The conversation of ``chat_id`` has ended and its messages were erased (or handed to
        :meth:`keep_for_erasure`): its journal rows go, so the erase job does not redo them, and
        so do the outside messages :meth:`outside_messages` gave for erasing with them."""
        async with self._lock:  # not while a flush is rewriting these rows
            outside_rows = self._settle_outside(chat_id)
            conversation = self._open.pop(chat_id, None)
            rows = [row.row_id for row in outside_rows]
            if conversation is not None:
                self._waiting -= len(conversation.waiting)
                rows += conversation.rows
            await self.housekeeping.forget(rows)

    def _settle_outside(self, chat_id: int) -> list[_OutsideRow]:
        """Drop the outside ids and rows taken by :meth:`outside_messages`; the rows to delete."""
        taken_ids, taken_rows = self._taken_outside.pop(chat_id, (set(), []))
        waiting = self._outside.get(chat_id)
        if waiting is not None and taken_ids:
            kept = [message_id for message_id in waiting if message_id not in taken_ids]
            self._waiting -= len(waiting) - len(kept)
            if kept:
                self._outside[chat_id] = kept
            else:
                del self._outside[chat_id]
        stored = self._outside_rows.get(chat_id, [])
        left = [row for row in stored if row not in taken_rows]
        if left:
            self._outside_rows[chat_id] = left
        else:
            self._outside_rows.pop(chat_id, None)
        return taken_rows

    # -- storing ----------------------------------------------------------------------------

    def _wake_once(self) -> None:
        # One early flush per fill, not one per id past the mark.
        if not self._woken:
            self._woken = True
            self._wake()

    def _admit(self) -> bool:
        if self._waiting >= MAX_WAITING:
            self.counts.dropped += 1  # logged by the next flush, not once per id
            return False
        self._waiting += 1
        return True

    async def flush(self) -> int:
        """Store every waiting id in one transaction (commits); returns how many rows it wrote.

        Each open conversation's new ids are sealed together with the ids of its last row into
        that row (rewritten in place), overflowing into new rows by 100; outside messages go
        into new rows held for :data:`OUTSIDE_HOLD`. Ids recorded while it runs wait for the
        next flush; on failure every id stays waiting.
        """
        async with self._lock:
            self._woken = False
            if self.counts.dropped > self._dropped_logged:
                event(_log, "erase_journal.full", logging.WARNING, dropped=self.counts.dropped)
                self._dropped_logged = self.counts.dropped
            held = self._held_targets()
            outside, self._outside = self._outside, {}
            outside_targets = [
                StoredTarget(chat_id, ids[start : start + MAX_MESSAGES])
                for chat_id, ids in outside.items()
                for start in range(0, len(ids), MAX_MESSAGES)
            ]
            if not held and not outside_targets:
                return 0
            try:
                stored = await self.housekeeping.store(
                    [planned.target for planned in held], hold_until=HELD
                )
            except BaseException:
                self._restore(outside)
                raise
            self._record_stored(held, stored)
            # Outside rows are held for a while, then go with an erase run; their own
            # transaction, so the conversations' rows are stored whatever happens to these.
            until = self._clock() + self._outside_hold
            try:
                outside_stored = await self.housekeeping.store(outside_targets, hold_until=until)
            except BaseException:
                self._restore(outside)
                raise
            self._remember_outside(outside_targets, outside_stored, until)
            self._waiting -= sum(len(ids) for ids in outside.values())
            self.counts.flushes += 1
            return len(stored) + len(outside_targets)

    def _remember_outside(
        self, targets: list[StoredTarget], stored: list[int], until: dt.datetime
    ) -> None:
        """Keep each chat's held outside rows until their hold ends (for :meth:`outside_messages`),
        and let go of those whose hold has ended: the erase job takes them."""
        now = self._clock()
        for chat_id in list(self._outside_rows):
            live = [row for row in self._outside_rows[chat_id] if row.until > now]
            if live:
                self._outside_rows[chat_id] = live
            else:
                del self._outside_rows[chat_id]
        for target, row_id in zip(targets, stored, strict=True):
            row = _OutsideRow(row_id, tuple(target.message_ids), until)
            self._outside_rows.setdefault(target.chat_id, []).append(row)

    def _restore(self, outside: dict[int, list[int]]) -> None:
        """Put outside ids taken for a failed flush back in front of any recorded since."""
        for chat_id, ids in outside.items():
            self._outside[chat_id] = ids + self._outside.get(chat_id, [])

    def _held_targets(self) -> list[_Planned]:
        """The rows to write for the open conversations with ids waiting."""
        planned: list[_Planned] = []
        for chat_id, conversation in self._open.items():
            if not conversation.waiting:
                continue
            taken = len(conversation.waiting)
            ids = conversation.last_row_ids + conversation.waiting
            row_id = conversation.rows[-1] if conversation.last_row_ids else None
            for start in range(0, len(ids), MAX_MESSAGES):
                chunk = ids[start : start + MAX_MESSAGES]
                target = StoredTarget(chat_id, chunk, row_id, conversation=True)
                planned.append(_Planned(chat_id, target, taken))
                row_id, taken = None, 0
        return planned

    def _record_stored(self, planned: list[_Planned], stored: list[int]) -> None:
        """After the commit: each conversation's rows, the ids of its last row, what still waits."""
        for plan, row_id in zip(planned, stored, strict=True):
            conversation = self._open.get(plan.chat_id)
            if conversation is None:
                continue
            if row_id not in conversation.rows:
                conversation.rows.append(row_id)
            # A full row stays as it is; the next ids start a new one.
            ids = list(plan.target.message_ids)
            conversation.last_row_ids = [] if len(ids) == MAX_MESSAGES else ids
            del conversation.waiting[: plan.taken]
            self._waiting -= plan.taken
