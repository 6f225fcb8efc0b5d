"""What the reporter flow needs from the rest of the bot, as two small interfaces.

``handlers/`` never sees keys, ciphertext or SQL (STYLE.md, "Module boundaries"): it hands a
finished :class:`~handlers.draft.Draft` to a :class:`ReportSubmitter` and gets back a case
reference and a receipt; it hands every message id it may have to erase to a
:class:`HousekeepingPort`.
``bot/services`` implements both; tests may pass their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from handlers.draft import Draft


class ShowableReceipt(Protocol):
    """A receipt the flow can show once; ``crypto.receipts.Receipt`` is one."""

    def to_display(self) -> str:
        """The receipt as the reporter should copy it (groups of digits)."""
        ...


@dataclass(frozen=True)
class Submission:
    """What a committed report gives back: its public case reference and the reporter's receipt."""

    case_reference: str
    receipt: ShowableReceipt

    def __repr__(self) -> str:
        # The receipt opens the reporter's mailbox: never printed.
        return "Submission(<redacted>)"


class SubmissionError(Exception):
    """The report could not be saved; nothing of it was committed and the draft is intact."""


class SubmissionBusy(SubmissionError):
    """Too many reports are being saved right now; trying again in a moment will work."""


class SubmissionNoRoom(SubmissionError):
    """The server's disk is too full to commit a report; trying again later may work."""


class ReportSubmitter(Protocol):
    """Seals and stores a finished draft."""

    async def submit(self, draft: Draft) -> Submission:
        """Seal ``draft`` and commit it; return only after the commit (I8).

        Raises :class:`SubmissionBusy` when the bounded key-derivation queue is full,
        :class:`SubmissionNoRoom` when the disk is too full to commit, and
        :class:`SubmissionError` for any other failure; either way nothing was committed. Must
        not keep a reference to ``draft``: the flow wipes it after this returns.
        """
        ...


class HousekeepingPort(Protocol):
    """Keeps message ids for erasure: as a conversation goes, and when the flow cannot erase.

    I7 across a hard stop: every message a conversation records is also journalled, so that a
    bot killed outright still has it erased at its next start; messages outside a conversation
    are erased a short while after they are sent.
    """

    async def keep_for_erasure(self, chat_id: int, message_ids: Sequence[int]) -> None:
        """Store ``message_ids`` of ``chat_id`` for the erase job (I2: sealed, with a deadline)."""
        ...

    def journal(self, chat_id: int, message_id: int) -> None:
        """Record a message of the conversation open in ``chat_id``: stored (sealed) within
        seconds, and left alone while this process runs until :meth:`settle`."""
        ...

    async def settle(self, chat_id: int) -> None:
        """The conversation in ``chat_id`` ended and its messages were erased or kept: drop its
        journal, so nothing is erased twice."""
        ...

    def erase_later(self, chat_id: int, message_ids: Sequence[int]) -> None:
        """Record messages outside any conversation (help, answers, refusals, dropped updates):
        erased a short while later, or at the next start."""
        ...

    def outside_messages(self, chat_id: int) -> list[int]:
        """The messages of ``chat_id`` recorded with :meth:`erase_later` and not erased yet: a flow
        that empties the chat erases them with its own, then calls :meth:`settle`."""
        ...
