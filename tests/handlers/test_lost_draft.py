"""The reporter whose draft died with another process is told once, and only then."""

from __future__ import annotations

from bot.leadership.lost_drafts import LostDrafts
from handlers.lost_draft import LOST_DRAFT
from tests.handlers.conftest import Reporter, begin, running_bot


def _told(reporter: Reporter) -> bool:
    return any(m.text == reporter._(LOST_DRAFT) for m in reporter.chat.messages())


async def test_the_next_message_after_a_lost_report_is_answered_with_why() -> None:
    lost = LostDrafts()
    async with running_bot(lost_drafts=lost) as harness:
        chat = harness.api.open_chat(6_300_001, "A")
        reporter = Reporter(chat)
        # The process that held this chat's draft died; this one learnt of it from the journal.
        lost.note(chat.chat_id)
        await chat.send_text("Is my report still there?")
        await chat.wait_until(lambda: _told(reporter))
        assert len(lost) == 0


async def test_a_report_begun_again_before_the_loss_was_learnt_goes_on() -> None:
    # After a restart the erase job learns of the dead process's drafts up to a minute later;
    # a reporter who has already begun a new report must not have it broken into.
    lost = LostDrafts()
    async with running_bot(lost_drafts=lost) as harness:
        chat = harness.api.open_chat(6_300_002, "A")
        reporter = Reporter(chat)
        await begin(reporter)
        lost.note(chat.chat_id)
        question = await reporter.press("Harassment or threats")
        assert question.buttons  # the next question of the new report
        assert not _told(reporter)
        assert len(lost) == 0  # the mark is spent: the new report's next press is not refused
