"""Replies and /status end to end: the real PTB Application against the local Bot API server, a
real SQLite file and real libsodium. The reply file is the one ``sanad caseworker reply`` writes
(``crypto.write_reply_file``); the command itself is tested with the caseworker CLI."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select
from telegram.ext import ApplicationBuilder

from bot.local_api import ChatMessage, UserChat
from crypto import (
    EnvelopeKind,
    ReportBody,
    Wrap,
    generate_receipt,
    open_report,
    seal_reply,
)
from crypto.keys import X25519PublicKey
from handlers.flood import FloodLimiter
from handlers.i18n import translator
from handlers.report_flow import install_report_flow
from handlers.status_flow import STATE_NAMES, InstallOrderError, install_status_flow
from storage.models import (
    BodyKind,
    DeliveryKind,
    Direction,
    Mailbox,
    MailboxMessage,
    OutboxEntry,
    Report,
    ReportStatus,
)
from storage.models import ReportBody as BodyRow
from storage.models import Wrap as WrapRow
from tests.handlers import samples
from tests.mailbox.conftest import (
    FLOW_SETTINGS,
    TODAY,
    Deployment,
    Kept,
    RefusingSubmitter,
    arabic_indic,
    running_bot,
)

ar = translator("ar")


async def latest_with_button(chat: UserChat, label: str) -> ChatMessage:
    for message in reversed(chat.bot_messages()):
        if any(button.text == label for row in message.buttons for button in row):
            return message
    raise AssertionError(f"no button {label!r} in the chat")


def answered(chat: UserChat, query: str) -> Callable[[], bool]:
    """Whether the bot has answered the button press ``query`` yet."""
    return lambda: chat.callback_answer(query) is not None


async def press(chat: UserChat, label: str) -> None:
    message = await latest_with_button(chat, label)
    await chat.press_button(message.message_id, text=label)


async def test_replies_reach_status_and_addition_opens_for_caseworker_and_recovery(
    deployment: Deployment,
) -> None:
    case = await deployment.submit()
    service = deployment.service()
    async with running_bot(service) as bot:
        caseworker = bot.caseworker_chat
        # 1. /reply: sealed at once, and the message with the words in clear is deleted.
        sent = await caseworker.send_command(
            "reply", f"{case.case_reference} We received your report.\nWe will call back."
        )
        # Numbered from 1, as the reporter's /status lists it (the stored sequence is 0).
        await caseworker.wait_for(lambda m: f"Reply 1 to {case.case_reference}" in (m.text or ""))
        await caseworker.wait_until(
            lambda: sent.message_id not in {m.message_id for m in caseworker.messages()}
        )
        # 2. A reply file made offline, uploaded as a document.
        signed = case.reply_file(deployment.caseworker, "Second reply, from my laptop", 1)
        await caseworker.send_document(signed, "reply-1.sanad", "application/octet-stream")
        await caseworker.wait_for(lambda m: f"Reply 2 to {case.case_reference}" in (m.text or ""))

        # 3. The reporter reads both replies with the receipt, typed in Arabic-Indic digits.
        reporter = bot.reporter_chat
        await reporter.send_command("status")
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_text(arabic_indic(case.receipt))
        shown = await reporter.wait_for(lambda m: "Second reply" in (m.text or ""))
        text = shown.text or ""
        assert "We received your report.\nWe will call back." in text
        assert text.index("We received") < text.index("Second reply")
        assert ar(STATE_NAMES[ReportStatus.IN_PROGRESS]) in text

        # 4. Adding information: a text and a photo, then Send.
        await press(reporter, ar("Add information"))
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_text("They found my new account too")
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_photo(samples.jpeg_with_gps())
        await reporter.wait_for(lambda m: ar("Send") in str(m.buttons) and "1" in (m.text or ""))
        await press(reporter, ar("Send"))
        # 5. I7: the whole exchange, the receipt included, is gone from the reporter's chat.
        await reporter.wait_until(lambda: not reporter.messages(), timeout=10)
    assert not bot.status.chat.housekeeping.ids  # type: ignore[attr-defined]

    async with deployment.db.sessionmaker() as session:
        report = await session.get(Report, case.report_id)
        assert report is not None
        assert report.status is ReportStatus.IN_PROGRESS
        assert report.next_sequence == 2
        body = await session.get(BodyRow, (case.report_id, 1))
        assert body is not None
        assert body.kind is BodyKind.ADDENDUM
        wraps = {
            w.recipient_key_id: w.wrap
            for w in await session.scalars(select(WrapRow).where(WrapRow.sequence == 1))
        }
        deliveries = list(
            await session.scalars(select(OutboxEntry).where(OutboxEntry.sequence == 1))
        )
        mailbox = await session.scalar(select(Mailbox).where(Mailbox.report_id == case.report_id))
    assert mailbox is not None
    assert mailbox.last_lookup_day == TODAY
    assert [(d.kind, d.caseworker_id) for d in deliveries] == [
        (DeliveryKind.ADDENDUM, deployment.caseworker_id)
    ]
    for secret in (deployment.caseworker.encryption, deployment.org.recovery):
        key_id = secret.public_key.key_id
        plaintext = open_report(
            body.body_sealed,
            Wrap(key_id, wraps[key_id]),
            report_id=case.report_id,
            sequence=1,
            kind=EnvelopeKind.ADDENDUM,
            secret_key=secret,
            reply_to=X25519PublicKey(case.mailbox_public),
        )
        addendum = ReportBody.from_bytes(plaintext)
        assert addendum.answer("addendum.text") == "They found my new account too"
        assert [a.media_type for a in addendum.attachments] == ["image/jpeg"]
        # Cleaned as in the report flow: the photographer's name in the EXIF did not survive.
        assert b"Canary Photographer" not in addendum.attachments[0].data


async def test_status_conversation_shows_a_forged_reply_row_to_no_one(
    deployment: Deployment,
) -> None:
    case = await deployment.submit()
    async with running_bot(deployment.service()) as bot:
        await bot.caseworker_chat.send_command("reply", f"{case.case_reference} Genuine reply")
        await bot.caseworker_chat.wait_for(lambda m: "Reply 1" in (m.text or ""))
        # I9: an intruder with write access adds reply 2, sealed to the mailbox key they read.
        async with deployment.db.sessionmaker() as session, session.begin():
            mailbox = await session.scalar(
                select(Mailbox).where(Mailbox.report_id == case.report_id)
            )
            assert mailbox is not None
            session.add(
                MailboxMessage(
                    mailbox_id=mailbox.id,
                    sequence=1,
                    direction=Direction.TO_REPORTER,
                    message_sealed=seal_reply(
                        "Meet me tonight",
                        report_id=case.report_id,
                        sequence=1,
                        mailbox_public=X25519PublicKey(case.mailbox_public),
                    ),
                    created_day=TODAY,
                )
            )
        reporter = bot.reporter_chat
        await reporter.send_command("status")
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_text(case.receipt.to_display())
        answer = await reporter.wait_for(lambda m: ar("Add information") in str(m.buttons))
    assert "Genuine reply" in (answer.text or "")
    assert "Meet me tonight" not in (answer.text or "")


async def test_unknown_receipt_answers_exactly_like_a_case_without_replies(
    deployment: Deployment,
) -> None:
    case = await deployment.submit(assigned=False)
    async with running_bot(deployment.service()) as bot:
        reporter = bot.reporter_chat
        answers = []
        for receipt in (case.receipt, generate_receipt()):
            await reporter.send_command("status")
            await reporter.wait_for(lambda m: bool(m.buttons))
            await reporter.send_text(receipt.to_display())
            answers.append(
                await reporter.wait_for(lambda m: ar("Add information") in str(m.buttons))
            )
            await press(reporter, ar("Erase this conversation"))
            await reporter.wait_until(lambda: not reporter.messages())
    known, unknown = answers
    assert known.text == unknown.text
    assert [[b.text for b in row] for row in known.buttons] == [
        [b.text for b in row] for row in unknown.buttons
    ]
    assert ar("No replies yet.") in (known.text or "")
    # The same work: one Argon2id run each.
    assert deployment.pool.derivations == 2


async def test_adding_under_an_unknown_receipt_answers_like_a_stored_addition(
    deployment: Deployment,
) -> None:
    case = await deployment.submit(assigned=False)
    async with running_bot(deployment.service()) as bot:
        reporter = bot.reporter_chat
        answers = []
        for receipt in (case.receipt, generate_receipt()):
            await reporter.send_command("status")
            await reporter.wait_for(lambda m: bool(m.buttons))
            await reporter.send_text(receipt.to_display())
            await reporter.wait_for(lambda m: ar("Add information") in str(m.buttons))
            await press(reporter, ar("Add information"))
            await reporter.wait_for(lambda m: bool(m.buttons))
            await reporter.send_text("One more detail")
            await reporter.wait_for(lambda m: ar("Send") in str(m.buttons))
            sending = await latest_with_button(reporter, ar("Send"))
            query = await reporter.press_button(sending.message_id, text=ar("Send"))
            await reporter.wait_until(answered(reporter, query))
            await reporter.wait_until(lambda: not reporter.messages(), timeout=10)
            answers.append(reporter.callback_answer(query))
    known, unknown = answers
    assert known == unknown
    assert known is not None
    assert known[0] == ar("Your information has been added. This conversation has been deleted.")
    async with deployment.db.sessionmaker() as session:
        report = await session.get(Report, case.report_id)
        assert report is not None
        assert report.next_sequence == 2  # only the real receipt stored something


async def test_an_addition_is_held_to_the_text_limit_as_a_whole(deployment: Deployment) -> None:
    case = await deployment.submit(assigned=False)
    part = "x" * 1500  # under the 2,000-character limit alone, over it with a second part
    async with running_bot(deployment.service()) as bot:
        reporter = bot.reporter_chat
        await reporter.send_command("status")
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_text(case.receipt.to_display())
        await reporter.wait_for(lambda m: ar("Add information") in str(m.buttons))
        await press(reporter, ar("Add information"))
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_text(part)
        await reporter.wait_for(lambda m: ar("Send") in str(m.buttons))
        await reporter.send_text(part)
        refused = await reporter.wait_for()
    assert refused.text == ar(
        "That message is too long. Maximum length: {limit} characters. Length of "
        "your message: {length}. Please shorten it."
    ).format(limit=2000, length=3002)


async def test_status_refused_during_a_report_is_erased_with_the_report(
    deployment: Deployment,
) -> None:
    async with running_bot(deployment.service()) as bot:
        reporter = bot.reporter_chat
        await reporter.send_command("start")
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_command("status")
        await reporter.wait_for(lambda m: "/forget" in (m.text or ""))
        await reporter.send_command("forget")
        await reporter.wait_until(lambda: not reporter.messages(), timeout=10)


async def test_typo_is_answered_before_any_derivation(deployment: Deployment) -> None:
    case = await deployment.submit()
    digits = case.receipt.digits
    i = next(i for i in range(len(digits) - 1) if digits[i] != digits[i + 1])
    swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    async with running_bot(deployment.service()) as bot:
        reporter = bot.reporter_chat
        await reporter.send_command("status")
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_text(swapped)
        answer = await reporter.wait_for()
    assert answer.text == ar(
        "This receipt has a typo: a digit is wrong or two digits are swapped. Please check it "
        "and send it again."
    )
    assert deployment.pool.derivations == 0


async def test_wrong_receipts_past_the_limit_are_refused_without_derivation(
    deployment: Deployment,
) -> None:
    async with running_bot(deployment.service(), receipt_attempts_per_minute=2) as bot:
        reporter = bot.reporter_chat
        await reporter.send_command("status")
        await reporter.wait_for(lambda m: bool(m.buttons))
        for _attempt in range(2):
            await reporter.send_text(generate_receipt().to_display())
            await reporter.wait_for(lambda m: ar("Add information") in str(m.buttons))
            await press(reporter, ar("Erase this conversation"))
            await reporter.send_command("status")
            await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_text(generate_receipt().to_display())
        refused = await reporter.wait_for()
    assert refused.text == ar(
        "You have tried too many receipts. Please wait a minute, then try again."
    )
    assert deployment.pool.derivations == 2


async def test_status_beyond_the_pool_bound_gets_busy(deployment: Deployment) -> None:
    case = await deployment.submit()
    service = deployment.service()
    pool = deployment.pool
    # Occupy the one worker and every waiting place, as a flood of guesses would.
    release = threading.Event()
    blocker = [
        asyncio.create_task(pool.run(lambda: release.wait(30))) for _ in range(pool.max_waiting + 1)
    ]
    await asyncio.sleep(0.05)
    try:
        async with running_bot(service) as bot:
            reporter = bot.reporter_chat
            await reporter.send_command("status")
            await reporter.wait_for(lambda m: bool(m.buttons))
            await reporter.send_text(case.receipt.to_display())
            busy = await reporter.wait_for()
            assert busy.text == ar("The bot is busy. Please try again in a minute.")
            release.set()
            await asyncio.gather(*blocker)
            # Once the flood has drained, the same receipt works, in the same conversation.
            await reporter.send_text(case.receipt.to_display())
            await reporter.wait_for(lambda m: ar("Add information") in str(m.buttons))
    finally:
        release.set()
        await asyncio.gather(*blocker, return_exceptions=True)


async def test_forget_in_an_open_status_erases_it_with_the_receipt(deployment: Deployment) -> None:
    case = await deployment.submit()
    async with running_bot(deployment.service()) as bot:
        reporter = bot.reporter_chat
        await reporter.send_command("status")
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_text(case.receipt.to_display())
        await reporter.wait_for(lambda m: ar("Add information") in str(m.buttons))
        old_add = await latest_with_button(reporter, ar("Add information"))
        # /forget must reach the open /status conversation, not the report flow's entry point.
        await reporter.send_command("forget")
        await reporter.wait_until(lambda: not reporter.messages())
        # Its buttons are dead now, and /status answers them itself.
        query = await reporter.forge_press(old_add.message_id, "status:add")
        await reporter.wait_until(lambda: reporter.callback_answer(query) is not None)
    assert reporter.callback_answer(query) == (
        ar("This button is no longer active. Please use the latest message."),
        True,
    )


def test_status_flow_installed_after_the_report_flow_is_refused() -> None:
    app = ApplicationBuilder().token("1:unused").build()
    install_report_flow(app, FLOW_SETTINGS, RefusingSubmitter(), Kept())
    with pytest.raises(InstallOrderError):
        install_status_flow(app, object(), FLOW_SETTINGS, Kept())  # type: ignore[arg-type]


async def test_messages_refused_under_a_flood_during_status_are_erased_with_it(
    deployment: Deployment,
) -> None:
    async with running_bot(deployment.service()) as bot:
        now = [1_000_000.0]
        bot.report.flood = FloodLimiter(3, clock=lambda: now[0])
        reporter = bot.reporter_chat
        await reporter.send_command("status")
        await reporter.wait_for(lambda m: bool(m.buttons))
        await reporter.send_text("12")
        await reporter.wait_for()
        for index in range(4):  # past the limit: refused, the first one answered
            await reporter.send_text(f"flood {index}")
        too_fast = ar(
            "You are sending messages too fast. Please wait a minute; nothing you have written "
            "so far is lost."
        )
        await reporter.wait_for(lambda m: m.text == too_fast)
        await asyncio.sleep(0.3)
        now[0] += 61
        await reporter.send_command("forget")
        # I7: the refused messages and the refusal go with the conversation.
        await reporter.wait_until(lambda: not reporter.messages(), timeout=10)
