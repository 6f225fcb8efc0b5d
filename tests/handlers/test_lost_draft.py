"""The reporter whose draft died with another process is told once, and only then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.leadership.lost_drafts import LostDrafts
from handlers.lost_draft import LOST_DRAFT
from tests.handlers.conftest import Reporter, begin, running_bot


@asynccontextmanager
async def reporter_with_lost_drafts(chat_id: int) -> AsyncIterator[tuple[Reporter, LostDrafts]]:
    """A reporter of a bot with the lost-draft notice, and the bot's record of lost drafts."""
    lost = LostDrafts()
    async with running_bot(lost_drafts=lost) as harness:
        yield Reporter(harness.api.open_chat(chat_id, "A")), lost


def _told(reporter: Reporter) -> bool:
    return any(m.text == reporter._(LOST_DRAFT) for m in reporter.chat.messages())


async def test_the_next_message_after_a_lost_report_is_answered_with_why() -> None:
    async with reporter_with_lost_drafts(6_300_001) as (reporter, lost):
        # The process that held this chat's draft died; this one learnt of it from the journal.
        lost.note(reporter.chat.chat_id)
        await reporter.chat.send_text("Is my report still there?")
        await reporter.chat.wait_until(lambda: _told(reporter))
        assert len(lost) == 0


async def test_a_report_begun_again_before_the_loss_was_learnt_goes_on() -> None:
    # After a restart the erase job learns of the dead process's drafts up to a minute later;
    # a reporter who has already begun a new report must not have it broken into.
    async with reporter_with_lost_drafts(6_300_002) as (reporter, lost):
        await begin(reporter)
        lost.note(reporter.chat.chat_id)
        question = await reporter.press("Harassment or threats")
        assert question.buttons  # the next question of the new report
        assert not _told(reporter)
        assert len(lost) == 0  # the mark is spent: the new report's next press is not refused


async def test_forget_after_a_lost_report_empties_the_chat_at_once() -> None:
    # /forget asks for an empty chat (I7): the notice would stay behind it, held for minutes.
    async with reporter_with_lost_drafts(6_300_003) as (reporter, lost):
        lost.note(reporter.chat.chat_id)
        await reporter.chat.send_command("forget")
        await reporter.chat.wait_until(lambda: not reporter.chat.messages())
        assert not _told(reporter)
        assert len(lost) == 0


async def test_a_bare_slash_after_a_lost_report_is_told_like_any_message() -> None:
    # Hostile or mistyped text that starts like a command must not break the notice.
    async with reporter_with_lost_drafts(6_300_004) as (reporter, lost):
        lost.note(reporter.chat.chat_id)
        await reporter.chat.send_text("/   ")
        await reporter.chat.wait_until(lambda: _told(reporter))
