"""Submitting under load and bounded budgets, seen from the reporter's chat (real PTB, local API).

A burst of reporters waits behind "Sealing your report, one moment…", which the receipt then
replaces; files past the bot-wide memory budget, files and reports the disk cannot hold, and
reports past the daily quota are each answered with their translated sentence, and the draft
is kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from handlers.budget import FreeDisk, shared_memory_budget
from handlers.draft import Draft
from handlers.i18n import translator
from handlers.ports import Submission, SubmissionNoRoom
from handlers.report_flow import SEALING
from tests.handlers import samples
from tests.handlers.conftest import (
    SETTINGS,
    RecordingSubmitter,
    Reporter,
    StaticReceipt,
    answer_to_narrative,
    begin,
    finish_from_links,
    running_bot,
)

_ = translator("en")
ADDED = "File added"
NO_ROOM = _(
    "This could not be saved right now, and nothing of it was kept. Please try again later; "
    "what you have written so far is still here."
)
BUDGET_FULL = _(
    "Many files are being held for reports right now. Please send this file again in a few "
    "minutes; everything you have sent so far is kept."
)


async def to_evidence(reporter: Reporter) -> None:
    await begin(reporter)
    await answer_to_narrative(reporter)
    await reporter.say("What happened", until=lambda m: bool(m.buttons))
    await reporter.press("Skip")  # links


async def evidence_to_review(reporter: Reporter) -> None:
    await reporter.press("Done")
    await reporter.press("I don't know")
    await reporter.press("No reply needed")
    await reporter.press("No")


@dataclass
class GatedSubmitter:
    """Holds every submission until ``opened``: reporters who pressed Submit at the same time."""

    opened: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    async def submit(self, draft: Draft) -> Submission:
        self.waiting += 1
        await self.opened.wait()
        return Submission("K7Q-2M4", StaticReceipt("1234 5678 9012 3456 7890 1234 5678"))


async def test_a_waiting_submission_shows_sealing_and_the_receipt_replaces_it() -> None:
    submitter = GatedSubmitter()
    async with running_bot(submitter=submitter) as harness:
        reporters = [Reporter(harness.api.open_chat(6300 + i, "A")) for i in range(3)]
        for reporter in reporters:
            await begin(reporter)
            await answer_to_narrative(reporter)
            await reporter.say("Sealed together", until=lambda m: bool(m.buttons))
            await finish_from_links(reporter)
        for reporter in reporters:
            review = reporter.latest_with_buttons()
            await reporter.chat.press_button(review.message_id, text=_("Submit"))
        sealing = [
            await r.chat.wait_for(lambda m: m.text == _(SEALING), timeout=10) for r in reporters
        ]
        await reporters[0].chat.wait_until(lambda: submitter.waiting == 3, timeout=10)
        submitter.opened.set()
        for reporter, shown in zip(reporters, sealing, strict=True):
            receipt = await reporter.chat.wait_for(
                lambda m: "1234 5678" in (m.text or ""), timeout=10
            )
            # The receipt took the sealing message's place: no "one moment" is left behind.
            assert receipt.message_id == shown.message_id
            assert not any(m.text == _(SEALING) for m in reporter.chat.bot_messages())


async def test_files_past_the_bot_wide_memory_budget_are_refused_and_the_draft_kept() -> None:
    photo = samples.jpeg_with_gps()
    # Room for one file as sent (its Telegram size is held until it is cleaned, then its cleaned
    # size), not for a second beside it; a limit no other test uses, so the budget is this
    # test's alone.
    limit = len(photo) + 321
    settings = dataclasses.replace(SETTINGS, draft_memory_bytes=limit)
    async with running_bot(settings) as harness:
        first = Reporter(harness.api.open_chat(6401, "A"))
        second = Reporter(harness.api.open_chat(6402, "B"))
        await to_evidence(first)
        await to_evidence(second)
        await first.chat.send_photo(photo)
        await first.chat.wait_for(lambda m: ADDED in (m.text or ""), timeout=15)
        await second.chat.send_photo(photo)
        refused = await second.chat.wait_for(lambda m: m.text == BUDGET_FULL, timeout=15)
        assert refused.text == BUDGET_FULL
        # The first reporter's draft ends: its file's place comes back, and the second's file
        # is taken.
        question = first.latest_with_buttons()
        await first.chat.press_button(question.message_id, text=_("Erase everything"))
        await first.chat.wait_until(lambda: not first.chat.messages())
        assert shared_memory_budget(limit).held == 0
        await second.chat.send_photo(photo)
        await second.chat.wait_for(lambda m: ADDED in (m.text or ""), timeout=15)
        await evidence_to_review(second)
        await second.press("Submit")
        submitter = harness.submitter
        assert isinstance(submitter, RecordingSubmitter)
        [report] = submitter.received
        assert report["what_happened"] == "What happened"
        assert isinstance(report["files"], list)
        assert len(report["files"]) == 1


async def test_a_file_the_disk_cannot_hold_is_refused_and_the_draft_kept(tmp_path: Path) -> None:
    free = [0]
    disk = FreeDisk((tmp_path,), 1000, free_bytes=lambda _path: free[0])
    async with running_bot(dataclasses.replace(SETTINGS, free_disk=disk)) as harness:
        reporter = Reporter(harness.api.open_chat(6501, "A"))
        await to_evidence(reporter)
        await reporter.chat.send_photo(samples.jpeg_with_gps())
        refused = await reporter.chat.wait_for(timeout=15)
        assert refused.text == NO_ROOM
        free[0] = 10**12  # room again: the same step takes the file
        await reporter.chat.send_photo(samples.jpeg_with_gps())
        await reporter.chat.wait_for(lambda m: ADDED in (m.text or ""), timeout=15)


async def test_a_report_the_disk_cannot_hold_is_answered_and_the_review_shown_again() -> None:
    async with running_bot() as harness:
        submitter = harness.submitter
        assert isinstance(submitter, RecordingSubmitter)
        submitter.fail_next = SubmissionNoRoom()
        reporter = Reporter(harness.api.open_chat(6502, "A"))
        await begin(reporter)
        await answer_to_narrative(reporter)
        await reporter.say("Kept through a full disk", until=lambda m: bool(m.buttons))
        await finish_from_links(reporter)
        review = await reporter.press("Submit")
        assert review.text is not None
        assert review.text.startswith(_("Please check your report before you submit it."))
        assert any(m.text == NO_ROOM for m in reporter.chat.bot_messages())
        receipt = await reporter.press("Submit")  # room again
        assert "1234 5678" in (receipt.text or "")
        assert submitter.received[0]["what_happened"] == "Kept through a full disk"


async def test_a_report_past_the_daily_quota_is_refused_and_the_draft_kept() -> None:
    settings = dataclasses.replace(SETTINGS, reports_per_day=1)
    async with running_bot(settings) as harness:
        reporter = Reporter(harness.api.open_chat(6503, "A"))
        await begin(reporter)
        await answer_to_narrative(reporter)
        await reporter.say("First report", until=lambda m: bool(m.buttons))
        await finish_from_links(reporter)
        await reporter.press("Submit")
        await reporter.chat.send_command("forget")
        await reporter.chat.wait_until(lambda: not reporter.chat.messages())
        await begin(reporter)
        await answer_to_narrative(reporter)
        await reporter.say("Second report", until=lambda m: bool(m.buttons))
        await finish_from_links(reporter)
        review = await reporter.press("Submit")
        refusal = _(
            "You have already sent {limit} reports today, the most one person can send in a "
            "day. Please submit this one tomorrow, or erase it."
        ).format(limit=1)
        assert any(m.text == refusal for m in reporter.chat.bot_messages())
        assert (review.text or "").startswith(_("Please check your report before you submit it."))
        submitter = harness.submitter
        assert isinstance(submitter, RecordingSubmitter)
        assert [r["what_happened"] for r in submitter.received] == ["First report"]
        # Another person is not limited by this one's quota.
        other = Reporter(harness.api.open_chat(6504, "B"))
        await begin(other)
        await answer_to_narrative(other)
        await other.say("Someone else", until=lambda m: bool(m.buttons))
        await finish_from_links(other)
        receipt = await other.press("Submit")
        assert "1234 5678" in (receipt.text or "")
