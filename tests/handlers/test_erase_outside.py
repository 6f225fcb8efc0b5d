"""Nothing the bot sends, or is sent, outside a conversation stays in the chat (I7).

``/help`` names the organisation and what the bot is for; a refusal shows that someone wrote to
it. Each is handed to the housekeeping port to be erased a short while later (the port's own
timing is ``tests/lifecycle_retention/test_erase_journal.py``'s); inside a conversation every
message is journalled as it goes and the journal is settled when the conversation is erased.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from handlers.flood import FloodLimiter
from handlers.i18n import translator
from tests.handlers import samples
from tests.handlers.conftest import Harness, Reporter, answer_query, begin

fr = translator("fr")


def ids_in(harness: Harness, chat_id: int) -> set[int]:
    return {m.message_id for m in harness.api.chat(chat_id).messages()}


async def test_help_outside_a_report_and_its_answer_are_handed_for_erasure(
    harness: Harness,
) -> None:
    chat = harness.api.open_chat(6101, "A")
    await chat.send_command("help")
    await chat.wait_for(lambda m: "/start" in (m.text or ""))
    await chat.wait_until(lambda: len(harness.housekeeping.later_ids(6101)) == 2)
    assert harness.housekeeping.later_ids(6101) == ids_in(harness, 6101)


async def test_free_text_outside_a_report_is_answered_and_both_are_handed_for_erasure(
    harness: Harness,
) -> None:
    chat = harness.api.open_chat(6102, "A", language_code="fr")
    await chat.send_text("Bonjour, je voudrais de l'aide")
    answer = await chat.wait_for()
    assert answer.text == fr("To report something, send /start. To check a report, send /status.")
    await chat.wait_until(lambda: len(harness.housekeeping.later_ids(6102)) == 2)
    assert harness.housekeeping.later_ids(6102) == ids_in(harness, 6102)


async def test_a_press_no_flow_owns_is_answered_with_an_alert_and_counted(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    chat = harness.api.open_chat(6103, "A", language_code="fr")
    await chat.send_command("help")
    shown = await chat.wait_for()
    with caplog.at_level(logging.INFO):
        query = await chat.forge_press(shown.message_id, "nobody:owns-this")
        answer = await answer_query(chat, query)
    assert answer == (fr("This button does nothing here. Send /help."), True)
    assert harness.flow.unowned_buttons == 1
    [record] = [r for r in caplog.records if r.getMessage() == "button_unowned"]
    assert record.__dict__["sanad_counts"] == {"count": 1}


async def test_messages_refused_under_a_flood_outside_a_report_are_handed_for_erasure(
    harness: Harness,
) -> None:
    now = [1_000_000.0]
    harness.flow.flood = FloodLimiter(1, clock=lambda: now[0])
    chat = harness.api.open_chat(6104, "A")
    await chat.send_text("first")
    await chat.wait_for()
    for index in range(3):
        await chat.send_text(f"flood {index}")
    await chat.wait_for(lambda m: "too fast" in (m.text or ""))
    await asyncio.sleep(0.3)
    # Every message in the chat, the refused ones and the one refusal included, goes.
    assert harness.housekeeping.later_ids(6104) == ids_in(harness, 6104)
    assert len(ids_in(harness, 6104)) == 6


async def test_a_conversation_is_journalled_as_it_goes_and_settled_when_erased(
    harness: Harness,
) -> None:
    chat = harness.api.open_chat(6105, "A")
    await begin(Reporter(chat))
    shown = ids_in(harness, 6105)
    await chat.wait_until(lambda: set(harness.housekeeping.journalled.get(6105, [])) == shown)
    await chat.send_command("forget")
    await chat.wait_until(lambda: not chat.messages())
    await chat.wait_until(lambda: 6105 not in harness.housekeeping.journalled)
    assert harness.housekeeping.later == []


@pytest.mark.parametrize("send", ["photo", "document", "unknown command"])
async def test_anything_else_outside_a_report_is_answered_and_both_are_handed_for_erasure(
    harness: Harness, send: str
) -> None:
    # A photo, a file or a mistyped command sent outside a report used to get no answer and
    # stay in the chat, beside nothing that would ever erase it.
    chat = harness.api.open_chat(6105, "A", language_code="fr")
    if send == "photo":
        await chat.send_photo(samples.jpeg_with_gps())
    elif send == "document":
        await chat.send_document(b"%PDF-1.4\n", "notes.pdf", "application/pdf")
    else:
        await chat.send_command("statsu")
    answer = await chat.wait_for()
    assert answer.text == fr("To report something, send /start. To check a report, send /status.")
    await chat.wait_until(lambda: len(harness.housekeeping.later_ids(6105)) == 2)
    assert harness.housekeeping.later_ids(6105) == ids_in(harness, 6105)
