"""The report flow on the real PTB Application, over HTTP, against the local Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram.ext import Application, ApplicationBuilder

from bot.local_api import ChatMessage, LocalBotApi, UserChat
from handlers.choices import country_name, month_name
from handlers.draft import Draft
from handlers.i18n import LANGUAGE_NAMES, translator
from handlers.lost_draft import LostDraftPort, install_lost_draft_notice
from handlers.ports import ReportSubmitter, Submission
from handlers.report_flow import (
    ReportFlow,
    ReportFlowSettings,
    install_outside_catch_all,
    install_report_flow,
)

SETTINGS = ReportFlowSettings(
    organisation_name="Sanad Test",
    countries=("EG", "IQ", "JO", "LB", "TN"),
    emergency_contacts=(("Hotline", "+20 100 000 0000"),),
    max_text_chars=500,
    max_file_bytes=2_000_000,
    max_files=5,
    max_messages_per_minute=200,
    flood_burst=200,
    conversation_timeout=dt.timedelta(minutes=30),
)


@dataclass
class StaticReceipt:
    """A receipt as the flow sees one: something it can show."""

    text: str

    def to_display(self) -> str:
        return self.text


@dataclass
class RecordingSubmitter:
    """A submitter that keeps a copy of what it was given (for flow tests without storage)."""

    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: BaseException | None = None

    async def submit(self, draft: Draft) -> Submission:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.received.append(
            {
                "language": draft.language,
                "in_danger": draft.in_danger,
                "incident_type": draft.incident_type,
                "platform": draft.platform,
                "country": draft.country,
                "year": draft.year,
                "month": draft.month,
                "what_happened": draft.what_happened,
                "links": list(draft.links),
                "files": [(a.kind, a.media_type, bytes(a.data)) for a in draft.attachments],
                "platform_response": draft.platform_response,
                "wants_reply": draft.wants_reply,
                "advocacy_consent": draft.advocacy_consent,
            }
        )
        return Submission("K7Q-2M4", StaticReceipt("1234 5678 9012 3456 7890 1234 5678"))


@dataclass
class RecordingHousekeeping:
    """Keeps what the flow hands over; ``handed`` is set at the first hand-over.

    ``journalled`` is what an open conversation recorded and has not settled yet; ``later`` is
    what was sent or received outside any conversation.
    """

    kept: list[tuple[int, list[int]]] = field(default_factory=list)
    handed: asyncio.Event = field(default_factory=asyncio.Event)
    journalled: dict[int, list[int]] = field(default_factory=dict)
    later: list[tuple[int, list[int]]] = field(default_factory=list)

    async def keep_for_erasure(self, chat_id: int, message_ids: Sequence[int]) -> None:
        self.kept.append((chat_id, list(message_ids)))
        self.handed.set()

    def journal(self, chat_id: int, message_id: int) -> None:
        self.journalled.setdefault(chat_id, []).append(message_id)

    async def settle(self, chat_id: int) -> None:
        self.journalled.pop(chat_id, None)

    def erase_later(self, chat_id: int, message_ids: Sequence[int]) -> None:
        self.later.append((chat_id, list(message_ids)))

    def outside_messages(self, chat_id: int) -> list[int]:
        """None: these tests check what is recorded with :meth:`erase_later` as recorded."""
        return []

    def later_ids(self, chat_id: int) -> set[int]:
        """Every message id of ``chat_id`` recorded to be erased outside a conversation."""
        return {m for chat, ids in self.later if chat == chat_id for m in ids}


@dataclass
class Harness:
    api: LocalBotApi
    app: Application  # type: ignore[type-arg]
    flow: ReportFlow
    submitter: ReportSubmitter
    housekeeping: RecordingHousekeeping


@contextlib.asynccontextmanager
async def running_bot(
    settings: ReportFlowSettings = SETTINGS,
    submitter: ReportSubmitter | None = None,
    lost_drafts: LostDraftPort | None = None,
    **api_options: Any,
) -> AsyncIterator[Harness]:
    """A local Bot API server and a polling application with the report flow installed (and,
    with ``lost_drafts``, the lost-draft notice in front of it, as bot.app registers it)."""
    async with LocalBotApi.running(**api_options) as api:
        token = api.add_bot()
        app = (
            ApplicationBuilder()
            .token(token)
            .base_url(api.bot_base_url)
            .base_file_url(api.file_base_url)
            .concurrent_updates(16)
            .build()
        )
        housekeeping = RecordingHousekeeping()
        submitter = submitter if submitter is not None else RecordingSubmitter()
        if lost_drafts is not None:
            install_lost_draft_notice(app, lost_drafts, housekeeping, settings.languages)
        flow = install_report_flow(app, settings, submitter, housekeeping)
        install_outside_catch_all(app, flow)  # last, as bot.app registers it
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                yield Harness(api, app, flow, submitter, housekeeping)
            finally:
                await app.updater.stop()
                await app.stop()


class Reporter:
    """A person in the chat: presses buttons by their (translated) label and types answers."""

    def __init__(self, chat: UserChat, language: str = "en") -> None:
        self.chat = chat
        self.language = language

    def _(self, message: str) -> str:
        return translator(self.language)(message)

    def latest_with_buttons(self) -> ChatMessage:
        for message in reversed(self.chat.bot_messages()):
            if message.buttons:
                return message
        raise AssertionError("no bot message with buttons in the chat")

    async def press(self, label: str, *, translate: bool = True) -> ChatMessage:
        """Press the button labelled ``label`` on the latest keyboard; return the next question.

        The next question is the first bot message with buttons sent or edited after the press:
        the pressed message itself when the bot edits it in place, or a new one below.
        """
        text = self._(label) if translate else label
        question = self.latest_with_buttons()
        await self.chat.press_button(question.message_id, text=text)
        return await self.chat.wait_for(lambda m: bool(m.buttons))

    async def say(
        self, text: str, until: Callable[[ChatMessage], bool] | None = None
    ) -> ChatMessage:
        """Send text; return the bot's first answer (matching ``until`` if given)."""
        await self.chat.send_text(text)
        return await self.chat.wait_for(until or (lambda m: True))


async def begin(reporter: Reporter, *, in_danger: bool = False) -> ChatMessage:
    """/start, choose the language, accept the notice, answer the danger question."""
    await reporter.chat.send_command("start")
    await reporter.chat.wait_for(lambda m: bool(m.buttons))

    await reporter.press(LANGUAGE_NAMES[reporter.language], translate=False)
    await reporter.press("I understand, continue")
    return await reporter.press("Yes, I am in danger now" if in_danger else "No")


async def answer_to_narrative(reporter: Reporter) -> ChatMessage:
    """Incident, platform, country, year and month; returns the "what happened" question."""

    await reporter.press("Blackmail or extortion")
    await reporter.press("Instagram")
    await reporter.press(country_name("LB", reporter.language), translate=False)
    await reporter.press("2025", translate=False)
    return await reporter.press(month_name(7, reporter.language), translate=False)


async def finish_from_links(reporter: Reporter) -> ChatMessage:
    """Skip links and evidence, then answer the last three questions; returns the review."""
    await reporter.press("Skip")
    await reporter.press("Skip")
    await reporter.press("I reported it and they removed it")
    await reporter.press("No reply needed")
    return await reporter.press("No")


async def submit_and_save(reporter: Reporter) -> ChatMessage:
    """Submit from the review and return the receipt message (not yet saved)."""
    return await reporter.press("Submit")


async def answer_query(chat: UserChat, query_id: str) -> tuple[str | None, bool]:
    """Wait for the bot to answer a button press; returns (text, show_alert)."""
    await chat.wait_until(lambda: chat.callback_answer(query_id) is not None)
    answer = chat.callback_answer(query_id)
    assert answer is not None
    return answer


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with running_bot() as running:
        yield running
