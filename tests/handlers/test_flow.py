"""The report conversation on the real PTB Application against the local Bot API server.

Each bad input gets its translated answer, and the draft survives it: the test then finishes the
report and checks the submitted answers still hold what came before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import Counter

from bot.local_api import Fault
from handlers.flood import FloodLimiter
from handlers.i18n import translator
from handlers.report_flow import DRAFT_KEY
from tests.handlers import samples
from tests.handlers.conftest import (
    SETTINGS,
    Harness,
    RecordingSubmitter,
    Reporter,
    answer_query,
    answer_to_narrative,
    begin,
    finish_from_links,
    running_bot,
)
from tests.support.calls import CallCounter

_ = translator("en")


def received(harness: Harness) -> dict[str, object]:
    submitter = harness.submitter
    assert isinstance(submitter, RecordingSubmitter)
    assert len(submitter.received) == 1
    return submitter.received[0]


async def narrative_and_submit(reporter: Reporter, text: str = "They threatened me") -> None:
    await reporter.say(text, until=lambda m: bool(m.buttons))
    await finish_from_links(reporter)
    await reporter.press("Submit")


async def test_danger_shows_the_configured_emergency_contacts(harness: Harness) -> None:
    reporter = Reporter(harness.api.open_chat(6001, "A"))
    question = await begin(reporter, in_danger=True)
    contacts = [m for m in reporter.chat.bot_messages() if "+20 100 000 0000" in (m.text or "")]
    assert len(contacts) == 1
    assert "Hotline" in (contacts[0].text or "")
    # The contacts replace the danger question and stay on screen, without buttons; the next
    # question comes below them.
    assert contacts[0].buttons == ()
    assert question.message_id > contacts[0].message_id


async def test_a_button_step_edits_the_pressed_message_with_two_bot_api_calls(
    harness: Harness,
) -> None:
    calls = CallCounter(harness.api)
    reporter = Reporter(harness.api.open_chat(6013, "A"))
    incident = await begin(reporter)
    before = calls.counts.copy()
    platform = await reporter.press("Blackmail or extortion")
    made = calls.counts - before
    del made["getupdates"]
    assert made == Counter({"answercallbackquery": 1, "editmessagetext": 1})
    assert platform.message_id == incident.message_id
    assert platform.edited
    assert platform.text == _("Where did it happen?")
    # Only the live question carries buttons: the chat holds no other keyboard.
    assert [m.message_id for m in reporter.chat.bot_messages() if m.buttons] == [
        platform.message_id
    ]


async def test_after_typed_text_the_next_question_is_a_new_message_below_it(
    harness: Harness,
) -> None:
    reporter = Reporter(harness.api.open_chat(6014, "A"))
    await begin(reporter)
    narrative = await answer_to_narrative(reporter)
    links = await reporter.say("They threatened me", until=lambda m: bool(m.buttons))
    typed = [m for m in reporter.chat.messages() if not m.from_bot][-1]
    assert narrative.message_id < typed.message_id < links.message_id
    # The question above keeps its keyboard, as before: its Back is no longer live (refused as
    # stale), and Erase works from any message of the conversation.
    stale = await reporter.chat.press_button(narrative.message_id, text=_("Back"))
    inactive = _("This button is no longer active. Please use the latest message.")
    assert await answer_query(reporter.chat, stale) == (inactive, True)
    await finish_from_links(reporter)


async def test_over_long_text_is_refused_with_the_limit_and_the_draft_survives(
    harness: Harness,
) -> None:
    reporter = Reporter(harness.api.open_chat(6002, "A"))
    await begin(reporter)
    await answer_to_narrative(reporter)
    answer = await reporter.say("x" * (SETTINGS.max_text_chars + 1))
    assert answer.text is not None
    assert "Maximum length" in answer.text
    assert str(SETTINGS.max_text_chars) in answer.text
    await narrative_and_submit(reporter)
    report = received(harness)
    assert report["incident_type"] == "blackmail"
    assert report["country"] == "LB"
    assert report["what_happened"] == "They threatened me"


async def test_bidi_override_is_refused_and_zero_width_is_removed_with_a_notice(
    harness: Harness,
) -> None:
    reporter = Reporter(harness.api.open_chat(6003, "A"))
    await begin(reporter)
    await answer_to_narrative(reporter)
    refused = await reporter.say("my account \u202enigol")
    assert refused.text is not None
    assert "reverse the direction" in refused.text
    await reporter.say("he\u200bllo\u2066 there", until=lambda m: bool(m.buttons))
    assert any("invisible" in (m.text or "") for m in reporter.chat.bot_messages())
    await finish_from_links(reporter)
    await reporter.press("Submit")
    assert received(harness)["what_happened"] == "hello there"


async def test_stale_and_forged_buttons_are_refused_and_the_step_stays(harness: Harness) -> None:
    reporter = Reporter(harness.api.open_chat(6004, "A"))
    await begin(reporter)
    incident_question = reporter.latest_with_buttons()
    await reporter.press("Harassment or threats")
    # A press on the earlier question (a client racing the keyboard change), then forged data.
    stale = await reporter.chat.forge_press(incident_question.message_id, "incident:arrest")
    forged = await reporter.chat.forge_press(
        reporter.latest_with_buttons().message_id, "platform:evil"
    )
    injected = await reporter.chat.forge_press(
        reporter.latest_with_buttons().message_id, "platform:" + "x" * 55
    )
    inactive = _("This button is no longer active. Please use the latest message.")
    for query in (stale, forged, injected):
        assert await answer_query(reporter.chat, query) == (inactive, True)
    await reporter.press("Facebook")
    await reporter.press("Egypt", translate=False)
    await reporter.press("I don't know")
    await narrative_and_submit(reporter)
    report = received(harness)
    assert report["incident_type"] == "harassment"
    assert report["platform"] == "facebook"
    assert report["year"] is None


async def test_commands_mid_step_are_answered_and_the_step_stays(harness: Harness) -> None:
    reporter = Reporter(harness.api.open_chat(6005, "A"))
    await begin(reporter)
    await answer_to_narrative(reporter)
    await reporter.chat.send_command("status")
    answer = await reporter.chat.wait_for()
    assert answer.text is not None
    assert "not available while you are writing a report" in answer.text
    await reporter.chat.send_command("start")
    again = await reporter.chat.wait_for()
    assert again.text is not None
    assert "already have a report in progress" in again.text
    await reporter.chat.send_command("help")
    help_text = await reporter.chat.wait_for()
    assert help_text.text is not None
    assert "/forget" in help_text.text
    await narrative_and_submit(reporter)
    assert received(harness)["platform"] == "instagram"


async def test_unexpected_messages_get_a_translated_answer(harness: Harness) -> None:
    reporter = Reporter(harness.api.open_chat(6006, "A", language_code="fr"), "fr")
    await begin(reporter)
    await reporter.chat.send_text("je tape au lieu de choisir")
    answer = await reporter.chat.wait_for()
    assert answer.text == translator("fr")("Please choose one of the buttons above.")
    await answer_to_narrative(reporter)
    await reporter.chat.send_voice(samples.voice_note(), 2)
    answer = await reporter.chat.wait_for()
    assert answer.text == translator("fr")(
        "Please answer with a text message. You can send files at the evidence step."
    )


async def test_reporter_is_told_that_a_pdf_becomes_pictures_of_its_pages(
    harness: Harness,
) -> None:
    chat = harness.api.open_chat(6017, "A", language_code="fr")
    reporter = Reporter(chat, "fr")
    await begin(reporter)
    await answer_to_narrative(reporter)
    await reporter.say("Preuves", until=lambda m: bool(m.buttons))
    await reporter.press(translator("fr")("Skip"))  # links
    await chat.send_document(samples.pdf_with_author(), "cv.pdf", "application/pdf")
    note = translator("fr")(
        "Each page of the PDF is kept as a picture, so its text can no longer be searched or "
        "copied."
    )
    await chat.wait_for(lambda m: m.text == note)
    added = translator("fr")("File added. Files added so far: {count}.").format(count=1)
    await chat.wait_for(lambda m: (m.text or "").startswith(added))


async def test_unsupported_too_big_and_too_many_files_are_refused_and_earlier_files_kept(
    harness: Harness,
) -> None:
    chat = harness.api.open_chat(6007, "A")
    reporter = Reporter(chat)
    await begin(reporter)
    await answer_to_narrative(reporter)
    await reporter.say("Evidence follows", until=lambda m: bool(m.buttons))
    await reporter.press("Skip")  # links
    await chat.send_document(b"PK\x03\x04 a zip archive", "photo.jpg", "image/jpeg")
    unsupported = await chat.wait_for()
    assert unsupported.text is not None
    assert "cannot be added" in unsupported.text
    await chat.send_document(b"OggS" + bytes(SETTINGS.max_file_bytes), "big.ogg", "audio/ogg")
    too_big = await chat.wait_for()
    assert too_big.text == _("This file is too large. Maximum size: {limit} MB.").format(limit=2)
    for index in range(SETTINGS.max_files):
        # Told apart by their audio (tags are emptied): note i has i + 1 packets.
        await chat.send_voice(samples.ogg_opus([b"TITLE=note"], audio_packets=index + 1), 1)
        await chat.wait_for(lambda m: "File added" in (m.text or ""))
    await chat.send_voice(samples.voice_note(), 1)
    too_many = await chat.wait_for()
    assert too_many.text == _("You have reached the maximum number of files: {limit}.").format(
        limit=SETTINGS.max_files
    )
    await reporter.press("Done")
    await reporter.press("I don't know")
    await reporter.press("No reply needed")
    await reporter.press("No")
    await reporter.press("Submit")
    files = received(harness)["files"]
    assert isinstance(files, list)
    assert len(files) == SETTINGS.max_files
    assert [data.count(b"\xf8\xff\xfe") for _kind, _type, data in files] == [
        i + 1 for i in range(SETTINGS.max_files)
    ]


async def test_flood_is_answered_once_and_the_draft_survives() -> None:
    async with running_bot() as harness:
        now = [1_000_000.0]
        harness.flow.flood = FloodLimiter(8, clock=lambda: now[0])
        chat = harness.api.open_chat(6008, "A")
        reporter = Reporter(chat)
        await begin(reporter)  # 4 updates
        await reporter.press("Account takeover")
        await reporter.press("TikTok")
        await reporter.press("Tunisia", translate=False)
        await reporter.press("Earlier")  # 8 updates: the limit
        for index in range(5):
            await chat.send_text(f"flood {index}")
        await chat.wait_for(lambda m: "too fast" in (m.text or ""))
        await asyncio.sleep(0.3)
        assert sum("too fast" in (m.text or "") for m in chat.bot_messages()) == 1
        now[0] += 61
        await narrative_and_submit(reporter, "After the flood")
        report = received(harness)
        assert report["incident_type"] == "account_takeover"
        assert report["year"] == "earlier"
        assert report["what_happened"] == "After the flood"


async def test_back_and_edit_change_an_answer_and_return_to_the_review(harness: Harness) -> None:
    reporter = Reporter(harness.api.open_chat(6009, "A"))
    await begin(reporter)
    await reporter.press("Doxxing or outing")
    await reporter.press("WhatsApp")
    platform_again = await reporter.press("Back")
    assert platform_again.text == _("Where did it happen?")
    await reporter.press("Messenger")
    await reporter.press("Jordan", translate=False)
    await reporter.press("I don't know")
    await reporter.say("Statement", until=lambda m: bool(m.buttons))
    review = await finish_from_links(reporter)
    assert review.text is not None
    assert "Platform: Messenger" in review.text
    await reporter.press("Edit an answer")
    await reporter.press("Platform")
    review = await reporter.press("Telegram")
    assert review.text is not None
    assert "Platform: Telegram" in review.text
    await reporter.press("Submit")
    report = received(harness)
    assert report["platform"] == "telegram"
    assert report["incident_type"] == "doxxing"
    assert report["country"] == "JO"


async def test_submit_failure_keeps_the_draft_and_a_second_submit_works() -> None:
    submitter = RecordingSubmitter(fail_next=RuntimeError("database is down"))
    async with running_bot(submitter=submitter) as harness:
        reporter = Reporter(harness.api.open_chat(6010, "A"))
        await begin(reporter)
        await answer_to_narrative(reporter)
        await reporter.say("Kept through a failure", until=lambda m: bool(m.buttons))
        await finish_from_links(reporter)
        review = await reporter.press("Submit")
        texts = [m.text or "" for m in reporter.chat.bot_messages()]
        assert any("could not be saved" in t for t in texts)
        assert review.text is not None
        assert review.text.startswith(_("Please check your report before you submit it."))
        receipt = await reporter.press("Submit")
        assert receipt.text is not None
        assert "1234 5678" in receipt.text
        assert received(harness)["what_happened"] == "Kept through a failure"


async def test_saved_erases_every_message_of_the_conversation_and_the_draft(
    harness: Harness,
) -> None:
    chat = harness.api.open_chat(6011, "A")
    reporter = Reporter(chat)
    await begin(reporter)
    await answer_to_narrative(reporter)
    await narrative_and_submit(reporter)
    # The reporter's messages and the bot's, some of them edited in place, are all erased.
    shown = chat.messages()
    assert {m.from_bot for m in shown} == {True, False}
    assert any(m.edited for m in shown)
    receipt = reporter.latest_with_buttons()
    await chat.press_button(receipt.message_id, text=_("I have saved it"))
    await chat.wait_until(lambda: not chat.messages())
    assert 6011 not in harness.app.user_data  # not even an empty entry keyed by the user id
    assert harness.housekeeping.kept == []


async def test_erase_button_and_forget_wipe_the_draft_and_the_chat(harness: Harness) -> None:
    chat = harness.api.open_chat(6012, "A")
    reporter = Reporter(chat)
    await begin(reporter)
    await reporter.press("Blackmail or extortion")
    query = await chat.press_button(
        reporter.latest_with_buttons().message_id, text=_("Erase everything")
    )
    await chat.wait_until(lambda: not chat.messages())
    assert (await answer_query(chat, query))[0] == _("Everything you wrote here has been deleted.")
    assert DRAFT_KEY not in harness.app.user_data.get(6012, {})
    await begin(reporter)
    await chat.send_command("forget")
    await chat.wait_until(lambda: not chat.messages())
    assert DRAFT_KEY not in harness.app.user_data.get(6012, {})


async def test_idle_timeout_wipes_the_draft_and_erases_the_chat() -> None:
    settings = dataclasses.replace(SETTINGS, conversation_timeout=dt.timedelta(seconds=1))
    async with running_bot(settings) as harness:
        chat = harness.api.open_chat(6013, "A")
        reporter = Reporter(chat)
        await begin(reporter)
        await reporter.press("Harassment or threats")
        await chat.wait_until(lambda: not chat.messages(), timeout=5)
        assert DRAFT_KEY not in harness.app.user_data.get(6013, {})


async def test_messages_that_cannot_be_deleted_go_to_housekeeping(harness: Harness) -> None:
    chat = harness.api.open_chat(6014, "A")
    reporter = Reporter(chat)
    await begin(reporter)
    ids = [m.message_id for m in chat.messages()]
    harness.api.faults.inject("deleteMessages", sequence=[Fault.server_error()])
    await chat.send_command("forget")
    await asyncio.wait_for(harness.housekeeping.handed.wait(), timeout=5)
    [(chat_id, kept)] = harness.housekeeping.kept
    assert chat_id == 6014
    assert set(ids) <= set(kept)


async def test_unexpected_error_gets_the_one_translated_sentence_and_the_draft_survives(
    harness: Harness,
) -> None:
    chat = harness.api.open_chat(6015, "A", language_code="ar")
    reporter = Reporter(chat, "ar")
    await begin(reporter)
    await answer_to_narrative(reporter)
    await reporter.say("نص", until=lambda m: bool(m.buttons))
    await reporter.press("Skip")
    harness.api.faults.inject("getFile", sequence=[Fault.server_error()])
    await chat.send_photo(samples.jpeg_with_gps())
    error = await chat.wait_for()
    assert error.text == translator("ar")("Something went wrong. Nothing you sent was kept.")
    await chat.send_photo(samples.jpeg_with_gps())
    await chat.wait_for(lambda m: bool(m.buttons))
    await reporter.press("Done")
    await reporter.press("I don't know")
    await reporter.press("No reply needed")
    await reporter.press("No")
    await reporter.press("Submit")
    report = received(harness)
    assert report["what_happened"] == "نص"
    files = report["files"]
    assert isinstance(files, list)
    assert len(files) == 1


async def test_hand_over_gives_open_conversations_to_housekeeping(harness: Harness) -> None:
    chat = harness.api.open_chat(6016, "A")
    await begin(Reporter(chat))
    ids = {m.message_id for m in chat.messages()}
    draft = harness.app.user_data[6016][DRAFT_KEY]
    for _attempt in range(50):  # the last question is remembered just after it is sent
        if draft.message_count == len(ids):
            break
        await asyncio.sleep(0.02)
    assert await harness.flow.hand_over(harness.app) == 1
    [(chat_id, kept)] = harness.housekeeping.kept
    assert chat_id == 6016
    assert set(kept) == ids


async def test_only_the_configured_languages_are_offered_in_their_order() -> None:
    settings = dataclasses.replace(SETTINGS, languages=("fr", "en"))
    async with running_bot(settings) as harness:
        reporter = Reporter(harness.api.open_chat(6101, "A"), language="fr")
        await reporter.chat.send_command("start")
        question = await reporter.chat.wait_for(lambda m: bool(m.buttons))
        assert [[b.text for b in row] for row in question.buttons] == [["Français"], ["English"]]
        assert (question.text or "").splitlines() == [
            translator("fr")("Choose your language."),
            translator("en")("Choose your language."),
        ]
        notice = await reporter.press("Français", translate=False)
        assert reporter._("I understand, continue") in str(notice.buttons)


async def test_one_configured_language_skips_the_choice_and_the_notice_has_no_back() -> None:
    settings = dataclasses.replace(SETTINGS, languages=("ar",))
    async with running_bot(settings) as harness:
        # The user's Telegram says English; the deployment speaks Arabic only.
        reporter = Reporter(harness.api.open_chat(6102, "A", language_code="en"), language="ar")
        await reporter.chat.send_command("start")
        notice = await reporter.chat.wait_for(lambda m: bool(m.buttons))
        labels = [b.text for row in notice.buttons for b in row]
        assert labels == [reporter._("I understand, continue"), reporter._("Erase everything")]
        await reporter.press("I understand, continue")
        await reporter.press("No")
        await answer_to_narrative(reporter)
        await narrative_and_submit(reporter)
        assert received(harness)["language"] == "ar"
