"""A state machine over the real bot: random interleavings of everything reporters can send.

Hypothesis drives several users against Sanad's own application (``build_application``, polling
the local Bot API server over HTTP, on a SQLite file): commands, hostile Unicode, files of every
kind and size, buttons pressed as offered, pressed late or forged, ``/forget``, whole reports,
``/status`` with the right receipt and with wrong ones, several users at once, and restarts of
the bot. After every step (DESIGN.md §2, §7):

- no exception reached the error handler (``handler_error.*``);
- the step got an answer: a message, an edit or an erasure for what was sent, an answer for a
  button press;
- the application is still running and polling;
- no other user's draft changed;
- and at the end, no canary (every text and file carries one) and no user id is in the
  database, its WAL, the state folder or the log lines as the deployment writes them (I1, I2).

CI runs a few short examples on fixed seeds; ``SANAD_RELIABILITY_FULL=1`` runs many long random
ones (tests/reliability/settings.py). A failing sequence Hypothesis prints goes into
tests/reliability/test_stateful_regressions.py as a plain test.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import shutil
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bot.local_api import LocalBotApi, UserChat
from bot.logs import SANAD_LOGGER, EventFormatter, RedactingFilter
from crypto.receipts import generate_receipt
from handlers.draft import Draft
from handlers.report_flow import DRAFT_KEY
from tests.handlers import samples
from tests.handlers.conftest import Reporter, answer_to_narrative, begin, finish_from_links
from tests.reliability.conftest import App, Deployment, make_deployment, polling_bot
from tests.reliability.loop_thread import LoopThread
from tests.reliability.settings import STATE_MACHINE

USERS = (7_100_000_001, 7_100_000_002, 7_100_000_003)
LANGUAGES = ("en", "fr", "ar")
ANSWER_SECONDS = 20.0
RESTART_AFTER_STEPS = 8
_RECEIPT = re.compile(r"\d{4}(?: \d{4}){6}")
# What hostile text is made of: bidi overrides and isolates, zero-width and joiner characters,
# combining marks, Arabic and Persian digits, emoji with modifiers, surrogate-free astral planes.
_HOSTILE = st.sampled_from(
    ["\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "\u0301" * 30, "٣٤٥", "۴۵۶",
     "👩🏽‍💻", "𝕊𝕒𝕟𝕒𝕕", "/start", "@", "<b>", "`", "\\", "%s", "{0}", "\n\n", "ﷺ", "ـــ"]
)
HOSTILE_TEXT = st.lists(
    st.one_of(_HOSTILE, st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                                max_size=40)),
    min_size=1, max_size=8,
).map("".join)
COMMANDS = st.sampled_from(["start", "help", "status", "forget", "cancel", "enroll 1234",
                            "cases", "reply X hello", "nonsense", "start extra words"])
FILE_SIZES = st.sampled_from([1, 3_000, 200_000, 1_200_000])  # the last is over the limit
# Three people file many reports: no daily quota (tests/handlers/test_budget.py has it).
LIMITS = {"max_messages_per_minute": 6000, "flood_burst": 6000, "max_file_bytes": 1_000_000,
          "max_files": 3, "reports_per_day": 10_000}


def _answered_since(chat: UserChat, version: int) -> bool:
    """The bot sent, edited or erased something in ``chat`` after ``version``."""
    return any(
        e["kind"] in ("edited", "deleted") or (e["kind"] == "message" and e.get("from_bot"))
        for e in chat.events(version)
    )


def _draft_fingerprint(draft: Draft) -> tuple[Any, ...]:
    """A draft's answers and files as comparable values (files by digest)."""
    values: list[Any] = []
    for field in fields(draft):
        value = getattr(draft, field.name)
        if field.name == "attachments":
            value = tuple((a.kind, a.media_type, hashlib.sha256(a.data).hexdigest())
                          for a in value)
        elif isinstance(value, list):
            value = tuple(value)
        values.append(value)
    return tuple(values)


class _DeploymentLog(logging.Handler):
    """Every record as the deployment writes it (redacted, formatted), and Sanad's event names."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._redact = RedactingFilter()
        self._format = EventFormatter(json_lines=True)
        self.lines: list[str] = []
        self.events: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(SANAD_LOGGER):
            self.events.append(record.getMessage())
        if self._redact.filter(record):
            self.lines.append(self._format.format(record))


class ReporterMachine(RuleBasedStateMachine):
    """Three reporters and the real bot; see the module docstring for what is checked."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = LoopThread()
        self.folder = Path(tempfile.mkdtemp(prefix="sanad-machine-"))
        self.canary = f"canary{secrets.token_hex(5)}"
        self.receipts: list[str] = []
        self.log = _DeploymentLog()
        self.saved_levels = {name: logging.getLogger(name).level
                             for name in ("", SANAD_LOGGER)}
        logging.getLogger().addHandler(self.log)
        logging.getLogger().setLevel(logging.DEBUG)  # the worst case: libraries at DEBUG
        self.bot_stack = contextlib.AsyncExitStack()
        self.api, self.token = self.loop.run(self._start_server)
        self.deployment: Deployment = make_deployment(self.api, self.folder / "deployment",
                                                      limits=LIMITS)
        self.app: App = self.loop.run(self._start_bot)

    async def _start_server(self) -> tuple[LocalBotApi, str]:
        api = LocalBotApi()
        await api.start()
        return api, api.add_bot()

    async def _start_bot(self) -> App:
        return await self.bot_stack.enter_async_context(
            polling_bot(self.deployment, self.token))

    # --- helpers ---

    def chat(self, user: int) -> UserChat:
        language = LANGUAGES[USERS.index(user)]
        return self.api.open_chat(user, f"U{user % 1000}", language_code=language)

    async def _settled(self) -> None:
        """Wait until the bot handles no update: an answer is sent before its handler returns
        (and stores the draft), so the drafts are compared only once every handler is done."""
        idle = 0
        for _ in range(int(ANSWER_SECONDS / 0.01)):
            busy = self.app.update_processor.current_concurrent_updates
            idle = idle + 1 if not busy and self.app.update_queue.empty() else 0
            if idle >= 3:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the bot is still handling updates")

    def act(self, user: int, action: Any) -> None:
        """Run ``action(chat)`` for ``user`` and wait until the bot answered it."""
        chat = self.chat(user)
        self.others = self._other_drafts(user)

        async def go() -> None:
            version = chat.version
            await action(chat)
            await chat.wait_until(lambda: _answered_since(chat, version), ANSWER_SECONDS)
            await self._settled()

        self.loop.run(go)
        self.acted = user
        self.steps += 1

    def press(self, user: int, message_id: int, data: str) -> None:
        chat = self.chat(user)
        self.others = self._other_drafts(user)

        async def go() -> None:
            query = await chat.forge_press(message_id, data)
            await chat.wait_until(lambda: chat.callback_answer(query) is not None,
                                  ANSWER_SECONDS)
            await self._settled()

        self.loop.run(go)
        self.acted = user
        self.steps += 1

    def _other_drafts(self, user: int) -> dict[int, tuple[Any, ...] | None]:
        drafts: dict[int, tuple[Any, ...] | None] = {}
        for other in USERS:
            if other != user:
                draft = self.app.user_data.get(other, {}).get(DRAFT_KEY)
                drafts[other] = _draft_fingerprint(draft) if isinstance(draft, Draft) else None
        return drafts

    # --- rules ---

    @initialize()
    def no_step_yet(self) -> None:
        self.others: dict[int, tuple[Any, ...] | None] = {}
        self.acted: int | None = None
        self.steps = 0  # since the last restart

    @rule(user=st.sampled_from(USERS), command=COMMANDS)
    def send_command(self, user: int, command: str) -> None:
        self.act(user, lambda chat: chat.send_text(f"/{command}"))

    @rule(user=st.sampled_from(USERS), text=HOSTILE_TEXT)
    def send_text(self, user: int, text: str) -> None:
        text = f"{text} {self.canary}"[:4096]
        self.act(user, lambda chat: chat.send_text(text))

    @rule(user=st.sampled_from(USERS), choice=st.integers(0, 50))
    def press_offered_button(self, user: int, choice: int) -> None:
        chat = self.chat(user)
        offered = [(m.message_id, b.callback_data) for m in chat.bot_messages()[-1:]
                   for row in m.buttons for b in row if b.callback_data]
        if offered:
            message_id, data = offered[choice % len(offered)]
            self.press(user, message_id, data)

    @rule(user=st.sampled_from(USERS), choice=st.integers(0, 200))
    def press_stale_button(self, user: int, choice: int) -> None:
        chat = self.chat(user)
        stale = [(m.message_id, b.callback_data) for m in chat.bot_messages()[:-1]
                 for row in m.buttons for b in row if b.callback_data]
        if stale:
            message_id, data = stale[choice % len(stale)]
            self.press(user, message_id, data)

    @rule(user=st.sampled_from(USERS),
          data=st.text(st.characters(codec="ascii"), min_size=1, max_size=64),
          on_latest=st.booleans())
    def press_forged_button(self, user: int, data: str, on_latest: bool) -> None:
        chat = self.chat(user)
        present = chat.bot_messages()
        message_id = present[-1].message_id if present and on_latest else 999_999
        self.press(user, message_id, data)

    @rule(user=st.sampled_from(USERS), size=FILE_SIZES,
          kind=st.sampled_from(["pdf", "bytes", "jpeg-document", "photo", "voice",
                                "garbage-voice"]))
    def send_file(self, user: int, size: int, kind: str) -> None:
        marker = self.canary.encode()
        padding = marker * (size // len(marker) + 1)
        if kind == "photo":
            self.act(user, lambda chat: chat.send_photo(samples.jpeg_with_gps(
                author=self.canary)))
        elif kind == "voice":
            self.act(user, lambda chat: chat.send_voice(samples.voice_note(marker), 2))
        elif kind == "garbage-voice":
            self.act(user, lambda chat: chat.send_voice(padding[:size], 2))
        else:
            content = {
                "pdf": samples.pdf_with_author(author=self.canary, body=self.canary),
                "jpeg-document": samples.jpeg_with_gps(author=self.canary),
                "bytes": padding[:size],
            }[kind]
            name = f"{self.canary}.{kind}"
            self.act(user, lambda chat: chat.send_document(content, name, "application/pdf"))

    @rule(user=st.sampled_from(USERS))
    def file_whole_report(self, user: int) -> None:
        """/forget, then a whole report to its receipt, which the user keeps."""
        chat = self.chat(user)
        self.others = self._other_drafts(user)

        async def go() -> str:
            reporter = Reporter(chat, LANGUAGES[USERS.index(user)])
            forget = await chat.send_command("forget")

            def erased_from_forget_on() -> bool:
                # Messages answered outside a conversation before /forget are held for the
                # erase job (bot/services/erase_journal.py, OUTSIDE_HOLD), not erased by it.
                return all(m.message_id < forget.message_id for m in chat.messages())

            await chat.wait_until(erased_from_forget_on, ANSWER_SECONDS)
            await begin(reporter)
            await answer_to_narrative(reporter)
            await reporter.say(f"what happened {self.canary}", until=lambda m: bool(m.buttons))
            await finish_from_links(reporter)
            shown = await reporter.press("Submit")
            found = _RECEIPT.search(shown.text or "")
            assert found, "the receipt was shown"
            await chat.press_button(shown.message_id, text=reporter._("I have saved it"))
            await chat.wait_until(erased_from_forget_on, ANSWER_SECONDS)
            await self._settled()
            return found.group(0)

        self.receipts.append(self.loop.run(go))
        self.acted = user
        self.steps += 1

    @rule(user=st.sampled_from(USERS),
          which=st.sampled_from(["right", "unknown", "typo", "garbage"]))
    def status_with_receipt(self, user: int, which: str) -> None:
        if which == "right" and not self.receipts:
            which = "unknown"
        typed = {
            "right": self.receipts[-1] if self.receipts else "",
            "unknown": generate_receipt().to_display(),
            "typo": generate_receipt().to_display()[:-1] + "x",
            "garbage": f"not a receipt {self.canary}",
        }[which]
        self.act(user, lambda chat: chat.send_command("status"))
        self.act(user, lambda chat: chat.send_text(typed))

    @rule(users=st.lists(st.sampled_from(USERS), min_size=2, max_size=3, unique=True),
          text=HOSTILE_TEXT)
    def users_at_once(self, users: list[int], text: str) -> None:
        chats = [self.chat(user) for user in users]
        self.others = {}

        async def go() -> None:
            versions = [chat.version for chat in chats]
            for chat in chats:
                await chat.send_text(f"{text} {self.canary}"[:4096])
            for chat, version in zip(chats, versions, strict=True):
                await chat.wait_until(lambda c=chat, v=version: _answered_since(c, v),
                                      ANSWER_SECONDS)
            await self._settled()

        self.loop.run(go)
        self.acted = None
        self.steps += 1

    # A restart costs a second: one now and then, after some traffic to interrupt.
    @precondition(lambda self: self.steps >= RESTART_AFTER_STEPS)
    @rule()
    def restart(self) -> None:
        """Stop the bot as SIGTERM stops it and start it again on the same files."""
        self.loop.run(self.bot_stack.aclose)
        self.bot_stack = contextlib.AsyncExitStack()
        self.app = self.loop.run(self._start_bot)
        self.others = {}
        self.steps = 0
        assert not any(DRAFT_KEY in data for data in self.app.user_data.values())

    # --- invariants ---

    @invariant()
    def no_exception_reached_the_error_handler(self) -> None:
        assert not [e for e in self.log.events if e.startswith("handler_error.")]

    @invariant()
    def the_bot_is_alive_and_polling(self) -> None:
        assert self.app.running
        assert self.app.updater is not None
        assert self.app.updater.running

    @invariant()
    def other_users_drafts_are_untouched(self) -> None:
        if self.acted is not None and self.others:
            assert self._other_drafts(self.acted) == self.others

    def teardown(self) -> None:
        try:
            self.loop.run(self.bot_stack.aclose)
            at_rest = self.deployment.at_rest()
        finally:
            self.loop.run(self.api.stop)
            self.loop.close()
            logging.getLogger().removeHandler(self.log)
            for name, level in self.saved_levels.items():
                logging.getLogger(name).setLevel(level)
            shutil.rmtree(self.folder, ignore_errors=True)
        needles = [self.canary.encode(), *(str(u).encode() for u in USERS)]
        for name, content in at_rest.items():
            for needle in needles:
                assert needle not in content, f"{needle!r} is in {Path(name).name}"
        written = "\n".join(self.log.lines)
        for needle in needles:
            assert needle.decode() not in written
        # The canary did go through the bot: the raw library records quote it.
        assert self.log.lines


ReporterMachine.TestCase.settings = STATE_MACHINE
TestReporterMachine = ReporterMachine.TestCase

