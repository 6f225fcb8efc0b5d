"""The reporter conversation under load: reports and updates per second, memory per open draft.

Run from the repository root::

    python -m bench.conversation [--reporters 1 10 50] [--drafts 1000]
                                 [--messages-per-second 1000] [--think-seconds 0.2]
                                 [--burst 30]

The bot is ``sanad run`` in a subprocess, as deployed, polling the local Bot API server that runs
in this process (so the server's work is not counted against the bot's memory). Simulated
reporters file complete reports (17 updates each: /start, 15 button presses, one typed
statement; no attachments) with every one of them in the conversation at once; each waits for
the bot's answer before its next update, as a person does. A reporter told the bot is busy (the
bounded Argon2id queue is full) presses Submit again, as the bot asks. The same run is made
against a plain echo bot (``python -m bench.conversation echo-bot``: PTB with the same
concurrency, one answer per update) over the same server: that is the baseline.

Lightness: the bench derives one receipt (Argon2id INTERACTIVE) in its own process and reports
its CPU, the bot's CPU per update beyond one derivation per report, and ``lightness`` — what an
ideal Sanad would spend (one derivation per report plus, per update, what the echo bot spends)
over what Sanad spent; 1.0 would be no cost beyond that, the target is 0.7.

Sanad's outgoing calls go through PTB's rate limiter at ``delivery.messages_per_second`` (30 in a
deployment, Telegram's own limit); the bench lifts it (``--messages-per-second``) to measure the
bot's own cost, and says which limit it used. The server counts ``deleteMessages`` calls: each
finished conversation should be erased with one. Triggers in the bench's database count the
housekeeping rows the erase journal writes while conversations run (I7 after a hard stop): a
conversation's row is rewritten at most once per flush, every few seconds while it is active,
and deleted when the conversation erases its own chat.

Memory: a fresh bot, one warm-up report, then ``--drafts`` reporters (``--wave`` at a time) each
stop part-way — at the danger question by default (three updates each, so a thousand drafts open
in about two minutes), or after typing their statement (``--draft-depth statement``) — so that
many drafts are open at once; the bot's resident set (``VmRSS``) before and after, and its peak
(``VmHWM``), from ``/proc``.

Burst: ``--burst`` reporters (30 by default) each fill in a whole report up to the review, then
all press Submit at the same moment; the run counts the receipts and the "busy" answers (the
sealing line should hold every one of them: 0 busy), the seconds from the presses to the first
and the last receipt, and the bot's peak resident memory. With ``--guessers N``, N other accounts
guess receipts through ``/status`` (a fresh well-formed receipt every ``--guess-interval``
seconds each, on average) from five seconds before the presses until the last answer; a
reporter with no answer after two minutes is counted as unanswered. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import CONCURRENT_UPDATES
from bot.local_api import ChatMessage, LocalBotApi, UserChat
from bot.local_api.ptb import polling
from bot.services.erase_journal import FLUSH_SECONDS
from crypto.keys import OrganisationKeys
from crypto.receipts import derive_master_secret, generate_receipt
from handlers.choices import country_name, month_name
from handlers.i18n import LANGUAGE_NAMES, translator
from tests.delivery.conftest import TOKEN_ENV, certified_state_dir, config_text
from tests.support.calls import CallCounter
from tests.support.processes import kill, sanad_run, stop

_ = translator("en")
# A statement of a realistic length for the draft to hold (about 600 characters).
STATEMENT = "They found my profile, threatened to send my photos to my family. " * 9
WAIT = 120.0  # seconds a simulated person waits for the receipt before the run is failed
# Seconds a person waits for the answer to one step before starting again (see ``Lost``).
STEP_WAIT = 10.0
# A person reads before acting; far quicker than anyone types, it keeps presses from racing
# the handler that sent their buttons (see ``Lost``). ``--think-seconds`` sets a human pace.
THINK_SECONDS = 0.2
BOT_PROCESS_START = 60.0

# The presses of a whole report, in order, by their English labels; the statement goes in
# after the month, and Submit and "I have saved it" come last.
BEFORE_STATEMENT = (
    LANGUAGE_NAMES["en"],
    _("I understand, continue"),
    _("No"),
    _("Blackmail or extortion"),
    _("Instagram"),
    country_name("LB", "en"),
    "2025",
    month_name(7, "en"),
)
AFTER_STATEMENT = (
    _("Skip"),
    _("Skip"),
    _("I reported it and they removed it"),
    _("No reply needed"),
    _("No"),
)


def _latest_with_buttons(chat: UserChat) -> ChatMessage:
    for message in reversed(chat.bot_messages()):
        if message.buttons:
            return message
    raise LookupError("no bot message with buttons in the chat")


class Lost(Exception):
    """A step got no answer: the press met the conversation's previous state.

    PTB runs one chat's updates concurrently (``concurrent_updates``), and a ConversationHandler
    records a callback's new state only when the callback returns; a press that reaches the bot
    before the handler that sent its button has returned is handled in the previous state and
    refused or ignored. A person then starts again, and the run counts it.
    """


class Person:
    """One simulated user: acts, then waits for the bot's answer; counts the updates sent."""

    def __init__(self, chat: UserChat, think: float = THINK_SECONDS) -> None:
        self.chat = chat
        self.think = think
        self.updates = 0
        self.restarts = 0

    async def command(self, name: str) -> ChatMessage:
        await asyncio.sleep(self.think)
        self.updates += 1
        await self.chat.send_command(name)
        return await self._answer(lambda m: bool(m.buttons))

    async def say(self, text: str) -> ChatMessage:
        await asyncio.sleep(self.think)
        self.updates += 1
        await self.chat.send_text(text)
        return await self._answer(lambda m: bool(m.buttons))

    async def _answer(self, predicate: Callable[[ChatMessage], bool]) -> ChatMessage:
        try:
            return await self.chat.wait_for(predicate, timeout=STEP_WAIT)
        except TimeoutError as exc:
            raise Lost from exc

    async def press(self, label: str | None = None, *, wait: float = STEP_WAIT) -> ChatMessage:
        """Press ``label`` (or the first button) on the latest keyboard; wait for the next."""
        await asyncio.sleep(self.think)
        question = _latest_with_buttons(self.chat)
        button = next(b for row in question.buttons for b in row
                      if label is None or b.text == label)
        self.updates += 1
        since = self.chat.version
        query = await self.chat.press_button(question.message_id, text=button.text)
        found: list[ChatMessage] = []

        def answered() -> bool:
            # The next question: the pressed message edited in place, or a new one.
            touched = {e["message_id"] for e in self.chat.events(since)
                       if e["kind"] in ("message", "edited")}
            later = [m for m in self.chat.bot_messages()
                     if m.buttons and m.message_id in touched]
            found.extend(later[:1])
            answer = self.chat.callback_answer(query)
            # Only a refusal answers a press with text; a step's answer is silent.
            return bool(found) or (answer is not None and answer[0] is not None)

        try:
            await self.chat.wait_until(answered, timeout=wait)
        except TimeoutError as exc:
            raise Lost from exc
        if not found:  # refused as stale
            raise Lost
        return found[0]


async def draft_to_danger_question(person: Person) -> None:
    """/start, the language and the notice: a draft open at its first question."""
    await person.command("start")
    for label in BEFORE_STATEMENT[:2]:
        await person.press(label)


async def draft_up_to_statement(person: Person) -> None:
    """/start to the typed statement: a draft the bot holds in memory."""
    await person.command("start")
    for label in BEFORE_STATEMENT:
        await person.press(label)
    await person.say(STATEMENT)


class Abandoned(Exception):
    """After a lost step, /forget did not empty the chat either: the person gives up."""


async def from_the_start(person: Person, script: Callable[[Person], Awaitable[None]]) -> None:
    """Run ``script``; after a lost step, do what a person would: /forget, then /start again."""
    while True:
        try:
            return await script(person)
        except Lost:
            person.restarts += 1
            person.updates += 1
            await person.chat.send_command("forget")
            try:
                await person.chat.wait_until(lambda: not person.chat.messages(),
                                             timeout=STEP_WAIT)
            except TimeoutError as exc:
                raise Abandoned from exc


async def whole_report(person: Person) -> None:
    """A whole report, Submit (again while the bot is busy), then "I have saved it"."""
    await from_the_start(person, _whole_report)


async def _whole_report(person: Person) -> None:
    await draft_up_to_statement(person)
    for label in AFTER_STATEMENT:
        await person.press(label)
    answer = await person.press(_("Submit"), wait=WAIT)
    while not any(b.text == _("I have saved it") for row in answer.buttons for b in row):
        await asyncio.sleep(0.5)  # "Many reports are being saved right now": a person waits
        answer = await person.press(_("Submit"), wait=WAIT)
    person.updates += 1
    await person.chat.press_button(answer.message_id, text=_("I have saved it"))
    await person.chat.wait_until(lambda: not person.chat.messages(), timeout=WAIT)


async def echo_conversation(person: Person) -> None:
    """The same number and kinds of updates, to a bot that answers each with one message."""
    await person.command("start")
    for _label in BEFORE_STATEMENT:
        await person.press()
    await person.say(STATEMENT)
    for _label in (*AFTER_STATEMENT, "submit", "saved"):
        await person.press()


@dataclass(frozen=True)
class Outcome:
    """What a run of simulated people did: updates sent, restarts after a stale answer, time."""

    updates: int
    restarts: int
    abandoned: int
    seconds: float


async def run_people(
    running: Running, count: int, first_id: int, script: Callable[[Person], Awaitable[None]]
) -> Outcome:
    """``count`` people running ``script`` at once."""
    people = [
        Person(running.api.open_chat(first_id + i, f"Reporter {i}", language_code="en",
                                     bot=running.username), running.think)
        for i in range(count)
    ]
    started = time.perf_counter()
    ended = await asyncio.gather(*(script(person) for person in people), return_exceptions=True)
    seconds = time.perf_counter() - started
    for outcome in ended:
        if isinstance(outcome, BaseException) and not isinstance(outcome, Abandoned):
            raise outcome
    abandoned = sum(isinstance(outcome, Abandoned) for outcome in ended)
    return Outcome(
        sum(p.updates for p in people), sum(p.restarts for p in people), abandoned, seconds
    )


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far, from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@dataclass(frozen=True)
class Running:
    """A bot process polling the server, its username there, and the calls it has made."""

    api: LocalBotApi
    process: asyncio.subprocess.Process
    username: str
    calls: CallCounter
    think: float = THINK_SECONDS
    database: Path | None = None


# What the bot writes to the housekeeping table, counted by triggers in the bench's own copy
# of the database (a deployment has none): each insert or update is one row write, and the
# erase journal writes a conversation's row at most once per flush (one transaction for all
# chats), so row writes per report are also the commits that carried that report's ids.
_COUNT_WRITES = """
CREATE TABLE IF NOT EXISTS bench_housekeeping_writes (kind TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS bench_hk_insert AFTER INSERT ON housekeeping
BEGIN INSERT INTO bench_housekeeping_writes VALUES ('insert'); END;
CREATE TRIGGER IF NOT EXISTS bench_hk_update AFTER UPDATE ON housekeeping
BEGIN INSERT INTO bench_housekeeping_writes VALUES ('update'); END;
CREATE TRIGGER IF NOT EXISTS bench_hk_delete AFTER DELETE ON housekeeping
BEGIN INSERT INTO bench_housekeeping_writes VALUES ('delete'); END;
"""


def count_housekeeping_writes(database: Path) -> None:
    """Install the counting triggers (once the bot has migrated the database)."""
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
        connection.executescript(_COUNT_WRITES)


def housekeeping_writes(database: Path) -> dict[str, int]:
    """Rows inserted, updated and deleted since the triggers were installed, and rows left."""
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
        counts = dict(
            connection.execute(
                "SELECT kind, count(*) FROM bench_housekeeping_writes GROUP BY kind"
            ).fetchall()
        )
        (left,) = connection.execute("SELECT count(*) FROM housekeeping").fetchone()
    return {kind: int(counts.get(kind, 0)) for kind in ("insert", "update", "delete")} | {
        "left": int(left)
    }


@dataclass
class Bench:
    api: LocalBotApi
    folder: Path
    messages_per_second: float
    think_seconds: float = THINK_SECONDS

    @asynccontextmanager
    async def sanad(self) -> AsyncIterator[Running]:
        """A fresh deployment (new SQLite file) and ``sanad run``, once it polls."""
        username = f"sanad_{len(self.api.world.bots)}_bot"
        token = self.api.add_bot(username=username)
        folder = Path(tempfile.mkdtemp(dir=self.folder))
        config = folder / "config.toml"
        org = OrganisationKeys.generate()
        config.write_text(
            config_text(
                api_url=self.api.url,
                database_url=f"sqlite+aiosqlite:///{folder / 'sanad.sqlite3'}",
                org=org,
                # Certified as `sanad admin certify-bot` leaves it: uncertified, it does not start.
                state_dir=certified_state_dir(folder / "state", org),
                delivery={
                    "batch_interval_seconds": 600.0, "jitter_seconds": 0.0,
                    "messages_per_second": self.messages_per_second,
                },
            )
            + "\n[limits]\nmax_messages_per_minute = 1000\n"
            + '\n[logging]\nlevel = "WARNING"\n'
        )
        bot = sanad_run(config, folder / "bot.log", {TOKEN_ENV: token})
        async with self._polling(username, bot) as running:
            database = folder / "sanad.sqlite3"
            count_housekeeping_writes(database)
            yield dataclasses.replace(running, database=database)

    @asynccontextmanager
    async def echo(self) -> AsyncIterator[Running]:
        """The echo bot in a subprocess, once it polls."""
        username = f"echo_{len(self.api.world.bots)}_bot"
        token = self.api.add_bot(username=username)

        @asynccontextmanager
        async def process() -> AsyncIterator[asyncio.subprocess.Process]:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.conversation", "echo-bot",
                "--api", self.api.url, env={**os.environ, TOKEN_ENV: token},
            )
            try:
                yield child
            finally:
                if child.returncode is None:
                    child.kill()
                await child.wait()

        async with self._polling(username, process()) as running:
            yield running

    @asynccontextmanager
    async def _polling(
        self,
        username: str,
        starting: AbstractAsyncContextManager[asyncio.subprocess.Process],
    ) -> AsyncIterator[Running]:
        # One counter per bot: the server counts every bot's calls, so each run starts afresh.
        calls = CallCounter(self.api)
        async with starting as child:
            await calls.wait_for("getUpdates", 1, timeout=BOT_PROCESS_START)
            yield Running(self.api, child, username, calls, self.think_seconds)


def argon2id_cpu_seconds(samples: int = 3) -> float:
    """CPU seconds of one receipt derivation (Argon2id INTERACTIVE), the median of ``samples``,
    in this process: the one derivation each report costs the bot, whatever else it does."""
    salt = secrets.token_bytes(16)
    timings = []
    for _ in range(samples):
        started = time.process_time()
        derive_master_secret(generate_receipt(), salt=salt)
        timings.append(time.process_time() - started)
    return sorted(timings)[samples // 2]


async def throughput(bench: Bench, reporters: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    argon2id = argon2id_cpu_seconds()
    first_id = 8_000_000
    for count in reporters:
        async with bench.sanad() as sanad:
            cpu = _cpu_seconds(sanad.process.pid)
            run = await run_people(sanad, count, first_id, whole_report)
            cpu = _cpu_seconds(sanad.process.pid) - cpu
            deletes = sanad.calls["deleteMessages"]
            await stop(sanad.process)
            assert sanad.database is not None
            writes = housekeeping_writes(sanad.database)
        first_id += count
        async with bench.echo() as echo:
            echo_cpu = _cpu_seconds(echo.process.pid)
            baseline = await run_people(echo, count, first_id, echo_conversation)
            echo_cpu = _cpu_seconds(echo.process.pid) - echo_cpu
        first_id += count
        rate, echo_rate = run.updates / run.seconds, baseline.updates / baseline.seconds
        reports = count - run.abandoned
        rows.append({
            "reporters": count,
            "reports_per_second": round((count - run.abandoned) / run.seconds, 2),
            "updates_per_second": round(rate, 1),
            "echo_updates_per_second": round(echo_rate, 1),
            "share_of_echo": round(rate / echo_rate, 3),
            "updates": run.updates,
            "restarts_after_lost_step": run.restarts,
            "abandoned": run.abandoned,
            "delete_messages_calls_per_report": round(deletes / (count - run.abandoned), 2),
            # The erase journal (I7 after a hard stop): sealed rows written while the
            # conversations ran, and deleted again when each one erased its own chat.
            "housekeeping_row_writes_per_report": round(
                (writes["insert"] + writes["update"]) / count, 2
            ),
            "housekeeping_rows_inserted_per_report": round(writes["insert"] / count, 2),
            "housekeeping_rows_deleted_per_report": round(writes["delete"] / count, 2),
            "housekeeping_rows_left": writes["left"],
            # CPU of the bot process alone (the server and the simulated people are not in it).
            "bot_cpu_ms_per_update": round(cpu / run.updates * 1000, 2),
            "echo_cpu_ms_per_update": round(echo_cpu / baseline.updates * 1000, 2),
            "argon2id_cpu_ms_per_report": round(argon2id * 1000, 1),
            "bot_cpu_ms_per_update_beyond_argon2id": round(
                (cpu - argon2id * reports) / run.updates * 1000, 2
            ),
            # What an ideal Sanad would spend (its one derivation per report, and per update
            # what the echo bot spends) over what it spent; 1.0 is the floor, 0.7 the target.
            "lightness": round(
                (argon2id * reports + echo_cpu / baseline.updates * run.updates) / cpu, 3
            ),
            "seconds": round(run.seconds, 2),
            "load_average_1min": round(os.getloadavg()[0], 2),
        })
    return rows


async def up_to_review(person: Person) -> None:
    """A whole draft, looking at the review and its Submit button."""
    await draft_up_to_statement(person)
    for label in AFTER_STATEMENT:
        await person.press(label)


BUSY = _("Many reports are being saved right now. Please press Submit again in a minute.")


async def guess_receipts(person: Person, stop_guessing: asyncio.Event, interval: float) -> int:
    """/status, then a fresh well-formed receipt every ``interval`` seconds until told to stop;
    returns how many guesses were sent (each one Argon2id look-up, unless a limit refused it)."""
    await person.chat.send_command("status")
    guesses = 0
    while not stop_guessing.is_set():
        await asyncio.sleep(interval * random.random())  # the accounts are not in step
        await person.chat.send_text(generate_receipt().to_display())
        guesses += 1
        await asyncio.sleep(interval * random.random())
    return guesses


async def submit_burst(
    bench: Bench, count: int, guessers: int = 0, guess_interval: float = 3.0
) -> dict[str, Any]:
    """``count`` reporters at the review press Submit at once, while ``guessers`` accounts guess
    receipts through /status; receipts, "busy", seconds."""
    async with bench.sanad() as sanad:
        flood = [
            Person(sanad.api.open_chat(9_800_000 + i, f"Guesser {i}", language_code="en",
                                       bot=sanad.username))
            for i in range(guessers)
        ]
        stop_guessing = asyncio.Event()
        people = [
            Person(sanad.api.open_chat(9_900_000 + i, f"Reporter {i}", language_code="en",
                                       bot=sanad.username))
            for i in range(count)
        ]
        await asyncio.gather(*(from_the_start(person, up_to_review) for person in people))
        reviews = [_latest_with_buttons(person.chat) for person in people]
        guessing = [
            asyncio.ensure_future(guess_receipts(g, stop_guessing, guess_interval)) for g in flood
        ]
        if flood:
            await asyncio.sleep(5.0)  # the look-up lane is full before anyone presses Submit
        started = time.perf_counter()
        # Every press reaches the server before any answer is awaited: the same moment.
        for person, review in zip(people, reviews, strict=True):
            await person.chat.press_button(review.message_id, text=_("Submit"))

        async def outcome(person: Person) -> tuple[str, float]:
            def answered() -> bool:
                return any(
                    m.text == BUSY or any(b.text == _("I have saved it")
                                          for row in m.buttons for b in row)
                    for m in person.chat.bot_messages()
                )

            try:
                await person.chat.wait_until(answered, timeout=WAIT)
            except TimeoutError:
                return "unanswered", WAIT
            seconds = time.perf_counter() - started
            busy = any(m.text == BUSY for m in person.chat.bot_messages())
            return ("busy" if busy else "receipt"), seconds

        results = await asyncio.gather(*(outcome(person) for person in people))
        stop_guessing.set()
        guesses = sum(await asyncio.gather(*guessing))
        # Two Argon2id workers (64 MiB each) at most, on top of the bot's own memory.
        peak = _proc_status_kib(sanad.process.pid, "VmHWM")
        try:
            await stop(sanad.process)
        except TimeoutError:  # a flood's backlog still being worked through: not measured here
            await kill(sanad.process)
    receipts = sorted(seconds for kind, seconds in results if kind == "receipt")
    return {
        "simultaneous_submissions": count,
        "receipt_guessers": guessers,
        "seconds_between_guesses": guess_interval if guessers else None,
        "guesses_sent": guesses,
        "receipts": len(receipts),
        "busy": sum(kind == "busy" for kind, _seconds in results),
        "unanswered": sum(kind == "unanswered" for kind, _seconds in results),
        "seconds_to_first_receipt": round(receipts[0], 2) if receipts else None,
        "seconds_to_last_receipt": round(receipts[-1], 2) if receipts else None,
        "bot_peak_rss_mib": round(peak / 1024, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


DRAFT_DEPTHS = {"danger": draft_to_danger_question, "statement": draft_up_to_statement}


async def draft_memory(bench: Bench, drafts: int, wave: int, depth: str) -> dict[str, Any]:
    async with bench.sanad() as sanad:
        await run_people(sanad, 1, 9_000_000, whole_report)  # warm-up: code paths loaded
        pid = sanad.process.pid
        before = _proc_status_kib(pid, "VmRSS")
        restarts = abandoned = 0
        seconds = 0.0
        # In waves of ``wave`` people at once; every draft stays open until the end.
        for first in range(0, drafts, wave):
            run = await run_people(
                sanad, min(wave, drafts - first), 9_100_000 + first,
                lambda person: from_the_start(person, DRAFT_DEPTHS[depth]),
            )
            restarts, abandoned = restarts + run.restarts, abandoned + run.abandoned
            seconds += run.seconds
        after = _proc_status_kib(pid, "VmRSS")
        peak = _proc_status_kib(pid, "VmHWM")
        await asyncio.sleep(FLUSH_SECONDS * 2)  # the last journal flush
        assert sanad.database is not None
        held = housekeeping_writes(sanad.database)
        await stop(sanad.process)
    return {
        "open_drafts": drafts,
        "draft_depth": depth,
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "bytes_per_draft": round((after - before) * 1024 / drafts),
        # One sealed row per open conversation while it is open (the erase journal's).
        "housekeeping_rows_while_open": held["left"],
        "restarts_after_lost_step": restarts,
        "abandoned_with_draft_open": abandoned,
        "seconds_to_open": round(seconds, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        async with LocalBotApi.running() as api:
            bench = Bench(api, Path(folder), args.messages_per_second, args.think_seconds)
            rows = await throughput(bench, args.reporters) if args.reporters else []
            memory = (
                await draft_memory(bench, args.drafts, args.wave, args.draft_depth)
                if args.drafts else None
            )
            burst = (
                await submit_burst(bench, args.burst, args.guessers, args.guess_interval)
                if args.burst else None
            )
    return {
        "benchmark": "conversation",
        "messages_per_second_limit": args.messages_per_second,
        "think_seconds": args.think_seconds,
        "throughput": rows,
        "memory": memory,
        "submit_burst": burst,
    }


def echo_bot(api_url: str) -> None:
    """A plain echo bot: each text or press gets one message with one button back."""
    button = InlineKeyboardMarkup([[InlineKeyboardButton("again", callback_data="again")]])

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is not None and update.effective_message is not None:
            text = update.effective_message.text or "?"
            await context.bot.send_message(update.effective_chat.id, text, reply_markup=button)

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is not None and update.effective_chat is not None:
            await query.answer()
            await context.bot.send_message(update.effective_chat.id, "again", reply_markup=button)

    async def serve() -> None:
        base = api_url.rstrip("/")
        application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(os.environ[TOKEN_ENV])
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .concurrent_updates(CONCURRENT_UPDATES)  # as Sanad's application
            .build()
        )
        application.add_handler(MessageHandler(filters.TEXT, on_text))
        application.add_handler(CallbackQueryHandler(on_press))
        async with polling(application):
            await asyncio.Event().wait()  # until the benchmark kills this process

    asyncio.run(serve())


def main() -> None:
    if sys.argv[1:2] == ["echo-bot"]:
        parser = argparse.ArgumentParser(prog="bench.conversation echo-bot")
        parser.add_argument("--api", required=True)
        echo_bot(parser.parse_args(sys.argv[2:]).api)
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reporters", type=int, nargs="*", default=[1, 10, 50])
    parser.add_argument("--drafts", type=int, default=1000)
    parser.add_argument("--wave", type=int, default=100,
                        help="reporters opening drafts at once (all stay open)")
    parser.add_argument("--draft-depth", choices=sorted(DRAFT_DEPTHS), default="danger",
                        help="where each draft stops: at the danger question (3 updates) or "
                        "after the typed statement (10 updates)")
    parser.add_argument("--messages-per-second", type=float, default=1000.0)
    parser.add_argument("--think-seconds", type=float, default=THINK_SECONDS,
                        help="a simulated person's pause before each update")
    parser.add_argument("--burst", type=int, default=30,
                        help="reporters pressing Submit at the same moment (0: skip)")
    parser.add_argument("--guessers", type=int, default=0,
                        help="accounts guessing receipts through /status during the burst")
    parser.add_argument("--guess-interval", type=float, default=3.0,
                        help="seconds between one account's guesses, on average")
    print(json.dumps(asyncio.run(measure(parser.parse_args()))))


if __name__ == "__main__":
    main()
