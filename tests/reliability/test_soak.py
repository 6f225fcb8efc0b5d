"""The soak: many reporters for minutes, with Bot API faults and two restarts of the bot; on
PostgreSQL, with several instances and the leader killed once.

``sanad run`` as deployed, in a subprocess, against the local Bot API server, with a caseworker
enrolled and approved through the real CLI. Simulated reporters file whole reports, one after
another, each waiting for the bot's answers as a person does; when an answer does not come (a
fault, a restart) they ``/forget`` and start again; at the deadline they leave, at whatever step
they are. Meanwhile 2% of the bot's Bot API calls
fail — 429 with ``retry_after``, 500, or no answer until the client gives up; for sendDocument
also "took effect, acknowledgement lost" — and the bot is stopped twice: with SIGTERM, then
with SIGKILL, and started again each time. Afterwards (DESIGN.md I8, I7):

- every report whose receipt was shown is stored and delivered to the caseworker;
- a file delivered twice carries the same case reference and number, and there are no more
  repeats than acknowledgements lost after sendDocument took effect;
- the bot's memory at the end is within 10% of its memory a while after its last start (on
  PostgreSQL: the leader's, a while after the last disturbance; full run only: CI's mark is in
  warm-up);
- with the full run's final purge, the housekeeping table is empty.

On PostgreSQL the bot is :data:`INSTANCES` ``sanad run`` instances electing a leader
(``tests.support.cluster``): a restart stops (SIGTERM) or kills (SIGKILL) every instance and
starts them again, and then the leader is SIGKILLed once, as a machine dies, and started again as
a standby. Beside the above: the leader changed and a standby took over; and every receipt shown
is delivered even when an instance that died held its claim: the leader releases it at once (CI's
wait for deliveries, two minutes, is shorter than the claim's ten-minute lease).

CI runs it short (tests/reliability/settings.py, SOAK); ``SANAD_RELIABILITY_FULL=1`` runs 200
reporters for ten minutes. The figures of a run are printed as one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import func, select

from bot.leadership.serve import EXIT_LEADERSHIP_LOST
from bot.local_api import ChatMessage, Fault, LocalApiUsageError, LocalBotApi, UserChat
from bot.local_api.faults import failing_share
from storage.models import Housekeeping as HousekeepingRow
from storage.models import Report
from tests.e2e.conftest import FAST_DELIVERY, Deployment, postgres_database
from tests.handlers.conftest import Reporter, answer_to_narrative, begin, finish_from_links
from tests.reliability.settings import SOAK
from tests.support.cluster import Cluster, running_cluster
from tests.support.processes import kill, stop, until

__all__ = ["postgres_database"]  # the fixture, for the PostgreSQL run

pytestmark = [pytest.mark.slow, pytest.mark.long]

CASEWORKER_CHAT = 6_100_900_100
FAULT_SHARE = 0.02
# Every method the bot calls: getUpdates too, so polling itself meets 429s, 500s and hangs.
FAULTED_METHODS = ("getUpdates", "sendMessage", "editMessageText", "editMessageReplyMarkup",
                   "answerCallbackQuery", "deleteMessage", "deleteMessages", "getFile",
                   "sendChatAction")
FAULTS = (Fault.rate_limited(1), Fault.server_error(), Fault.hang())
# sendDocument also loses acknowledgements after the file went out: the only repeat I8 allows.
DOCUMENT_FAULTS = (*FAULTS, Fault.hang(after_effect=True))
ANSWER_SECONDS = 30.0
MEMORY_SAMPLE_SECONDS = 30.0
_CASE = re.compile(r"Case reference: \W*([0-9A-Z]+(?:-[0-9A-Z]+)*)")
# Reporters file many reports each: no daily quota.
SOAK_LIMITS = {"max_messages_per_minute": 600, "reports_per_day": 10_000}
# PostgreSQL: the instances, and their takeover time. Longer than tests/ha's 2 s: under the
# soak's load on two cores a heartbeat bound of 0.4 s would end healthy leaders.
INSTANCES = 3
TAKEOVER_SECONDS = 5.0
# How soon an instance that ended on its own is started again (deploy/sanad.service: RestartSec).
RESTART_SECONDS = 5.0


class PatientChat:
    """A reporter's view of their chat, as a person uses it: they wait up to half a minute for
    an answer (the bot may be restarting, or a call failed and is retried), then read it for a
    few seconds before they act again. Everything else is the :class:`UserChat`'s."""

    def __init__(self, chat: UserChat, think: random.Random) -> None:
        self._chat = chat
        self._think = think

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chat, name)

    async def wait_for(
        self, predicate: Callable[[ChatMessage], bool] = lambda _m: True, *,
        timeout: float = ANSWER_SECONDS, since: int | None = None,  # noqa: ASYNC109
    ) -> ChatMessage:
        answer = await self._chat.wait_for(predicate, timeout=timeout, since=since)
        await asyncio.sleep(self._think.uniform(*SOAK.think_seconds))
        return answer


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS for the bot process")


class Lives(Protocol):
    """The bot of the soak as the deployment runs it, through its restarts."""

    elects_a_leader: bool

    async def disturb(self, how: str) -> None:
        """``sigterm`` or ``sigkill`` the bot and start it again; ``leader``: kill the leader."""

    async def serving_pid(self) -> int:
        """The process that receives updates now."""


class OneProcess:
    """SQLite: one ``sanad run`` at a time, started again after each stop."""

    elects_a_leader = False

    def __init__(self, deployment: Deployment, stack: contextlib.AsyncExitStack) -> None:
        self._deployment = deployment
        self._stack = stack
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the bot; returns once it polls."""
        self._process = await self._stack.enter_async_context(self._deployment.bot())

    async def disturb(self, how: str) -> None:
        assert self._process is not None
        await (stop(self._process) if how == "sigterm" else kill(self._process))
        await self.start()

    async def serving_pid(self) -> int:
        assert self._process is not None
        return self._process.pid


class Instances:
    """PostgreSQL: :data:`INSTANCES` instances, one leading; a restart is of them all. An
    instance that ends on its own, having lost its leadership, is started again
    :data:`RESTART_SECONDS` later, as the service manager does (``Restart=on-failure``,
    deploy/sanad.service)."""

    elects_a_leader = True

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.leaders: list[str | None] = []  # the leader's name before and after its kill
        self.takeover_seconds: list[float] = []
        self._restarted: set[int] = set()

    @contextlib.asynccontextmanager
    async def supervised(self) -> AsyncIterator[Instances]:
        """Restart what ends with :data:`EXIT_LEADERSHIP_LOST` while inside."""

        async def supervise() -> None:
            while True:
                for index in self._lost():
                    self._restarted.add(index)
                    await self.cluster.start_instance()
                await asyncio.sleep(RESTART_SECONDS)

        task = asyncio.create_task(supervise())
        try:
            yield self
        finally:
            task.cancel()

    def _lost(self) -> list[int]:
        return [i for i, p in enumerate(self.cluster.processes)
                if p.returncode == EXIT_LEADERSHIP_LOST and i not in self._restarted]

    async def disturb(self, how: str) -> None:
        cluster = self.cluster
        live = cluster.live()
        if how == "leader":
            leader = await cluster.leader()
            self.leaders.append(await cluster.leader_name())
            killed_at = time.monotonic()
            await kill(cluster.processes[leader])
            await cluster.leader(other_than=leader, timeout=60)
            self.takeover_seconds.append(round(time.monotonic() - killed_at, 1))
            self.leaders.append(await cluster.leader_name())
            await cluster.start_instance()  # the service manager starts it again: a standby
        else:
            end = stop if how == "sigterm" else kill
            await asyncio.gather(*(end(cluster.processes[i]) for i in live))
            for _ in live:
                await cluster.start_instance()
            await cluster.leader(timeout=60)
        await cluster.wait_ready()

    async def serving_pid(self) -> int:
        return self.cluster.processes[await self.cluster.leader()].pid

    def leaderships_lost(self) -> int:
        """Instances that ended on their own, having lost their leadership (exit status 75)."""
        return len(self._restarted) + len(self._lost())


class Soak:
    """The load, the faults and the bot's lives; figures for the report at the end."""

    def __init__(self, api: LocalBotApi, deployment: Deployment) -> None:
        self.api = api
        self.deployment = deployment
        self.shown: list[str] = []  # case references whose receipt a reporter saw
        self.attempts_failed: Counter[str] = Counter()  # by the step that got no answer
        self.served: Counter[str] = Counter()  # faults served, by kind
        self.lost_document_acks = 0
        self.memory_kib: dict[str, int] = {}
        self.memory_series_kib: list[int] = []  # RSS through the last life, see sample_memory
        self.delivered: Counter[str] = Counter()  # files in the caseworker's chat, by caption
        self.undelivered = 0  # receipts shown whose file did not reach the caseworker
        self.deadline = 0.0
        self.drained_after = 0.0  # seconds from the end of the load to every file delivered
        self.forget_again = 0  # final /forget sent again: the first was not erased in time
        self.housekeeping_left: dict[str, int] = {}  # rows left after the final purge, by kind

    def install_faults(self) -> None:
        for number, method in enumerate(FAULTED_METHODS):
            self.api.faults.inject(method, sequence=failing_share(FAULT_SHARE, FAULTS, 200_000,
                                                                  seed=number))
        self.api.faults.inject("sendDocument", sequence=failing_share(
            FAULT_SHARE, DOCUMENT_FAULTS, 200_000, seed=99))
        original = self.api.faults.next_fault

        def counted(method: str) -> Fault | None:
            fault = original(method)
            if fault is not None:
                self.served[fault.kind.value] += 1
                if method.lower() == "senddocument" and fault.after_effect:
                    self.lost_document_acks += 1
            return fault

        self.api.faults.next_fault = counted  # type: ignore[method-assign]

    def disturbances(self, bot: Lives) -> list[tuple[float, str]]:
        """When, in seconds from the start, the bot is stopped and how; on several instances,
        also when the leader is killed."""
        planned = [(SOAK.sigterm_at, "sigterm"), (SOAK.sigkill_at, "sigkill")]
        if bot.elects_a_leader:
            planned.append((SOAK.leader_killed_at, "leader"))
        return planned

    # --- reporters ---

    async def one_report(self, reporter: Reporter, stage: list[str]) -> str:
        """A whole report, from /forget to the saved receipt; returns its case reference."""
        chat = reporter.chat
        stage[0] = "forget"
        forget = await chat.send_command("forget")
        await chat.wait_until(lambda: all(m.message_id != forget.message_id
                                          for m in chat.messages()), timeout=ANSWER_SECONDS)
        stage[0] = "begin"
        await begin(reporter)
        stage[0] = "narrative"
        await answer_to_narrative(reporter)
        await reporter.say("What happened, in a few words.", until=lambda m: bool(m.buttons))
        stage[0] = "finish"
        await finish_from_links(reporter)
        stage[0] = "submit"
        shown = await reporter.press("Submit")
        found = _CASE.search(shown.text or "")
        if found is None:
            raise LocalApiUsageError("the answer to Submit was not the receipt")
        self.shown.append(found.group(1))  # shown: from here on it must be stored (I8)
        await chat.press_button(shown.message_id, text=reporter._("I have saved it"))
        return found.group(1)

    async def reporter(self, number: int) -> None:
        chat = self.api.open_chat(7_400_000_000 + number, f"R{number}", language_code="en")
        think = random.Random(number)
        reporter = Reporter(PatientChat(chat, think))  # type: ignore[arg-type]
        stage = [""]
        await asyncio.sleep(think.uniform(0, 5))  # people do not all start at once
        loop = asyncio.get_running_loop()
        while (left := self.deadline - time.monotonic()) > 0:
            try:
                # At the deadline the reporter leaves, at whatever step: the run lasts as long
                # as its load, not as long as the slowest report begun before the end.
                async with asyncio.timeout_at(loop.time() + left):
                    await self.one_report(reporter, stage)
            except (TimeoutError, LocalApiUsageError, AssertionError):
                if time.monotonic() >= self.deadline:
                    break
                # No answer in time, or the keyboard to press was erased by a stopping bot
                # (Reporter's AssertionError): start again a little later, as a person would.
                self.attempts_failed[stage[0]] += 1
                await asyncio.sleep(think.uniform(5, 15))

    # --- the bot's lives ---

    async def run(self, bot: Lives) -> None:
        """The load, and the disturbances at their times; then the last life: memory, the
        deliveries owed, the final purge."""
        start = time.monotonic()
        self.deadline = start + SOAK.seconds
        load = asyncio.gather(*(self.reporter(n) for n in range(SOAK.reporters)))
        for at, how in self.disturbances(bot):
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            await bot.disturb(how)
        pid = await bot.serving_pid()
        sampling = asyncio.create_task(self.sample_memory(pid))
        await asyncio.sleep(SOAK.memory_mark_seconds)
        self.memory_kib["mark"] = _rss_kib(pid)
        await load
        self.memory_kib["end"] = _rss_kib(pid)
        sampling.cancel()
        await self.delivered_all()
        self.drained_after = round(time.monotonic() - self.deadline, 1)
        if SOAK.final_purge:
            await self.final_purge()

    async def sample_memory(self, pid: int) -> None:
        """The bot's RSS every :data:`MEMORY_SAMPLE_SECONDS` of its last life, to tell a warm-up
        that flattens from a steady climb (docs/RELIABILITY.md, "Memory")."""
        while True:
            self.memory_series_kib.append(_rss_kib(pid))
            await asyncio.sleep(MEMORY_SAMPLE_SECONDS)

    async def delivered_all(self) -> None:
        caseworker = self.api.chat(CASEWORKER_CHAT)

        def captions() -> Counter[str]:
            return Counter(m.caption for m in caseworker.messages()
                           if m.document is not None and m.caption is not None)

        wanted = {f"{reference} #0" for reference in self.shown}
        # A file whose sendDocument got no answer is sent again once its claim lapses
        # (minutes): the full run's backlog takes as long as the run to drain, at most.
        with contextlib.suppress(TimeoutError):
            await caseworker.wait_until(lambda: wanted <= set(captions()),
                                        timeout=max(120.0, SOAK.seconds))
        self.delivered = captions()
        self.undelivered = len(wanted - set(self.delivered))

    async def final_purge(self) -> None:
        """Every reporter ends with /forget, as a person does: sent again while it is not erased
        (a Bot API fault may have cut its handling short). Held messages wait their hold, then
        the erase job; what is left after that is counted by kind before the test fails."""
        await asyncio.gather(*(self.forget(number) for number in range(SOAK.reporters)))

        async def no_rows() -> bool:
            return await self.rows(HousekeepingRow) == 0

        try:
            await until(no_rows, timeout=330)
        except TimeoutError:
            async with self.deployment.database() as db, db.sessionmaker() as session:
                left = await session.execute(
                    select(HousekeepingRow.conversation, func.count()).group_by(
                        HousekeepingRow.conversation))
                self.housekeeping_left = {
                    "conversation" if conversation else "outside": count
                    for conversation, count in left}
            print(json.dumps({"soak_final_purge": {"forget_again": self.forget_again,
                                                   "housekeeping_left": self.housekeeping_left}}))
            raise

    async def forget(self, number: int, tries: int = 3) -> None:
        chat = self.api.chat(7_400_000_000 + number)
        for _ in range(tries):
            forget = await chat.send_command("forget")
            try:
                await chat.wait_until(lambda f=forget: all(m.message_id != f.message_id
                                                           for m in chat.messages()),
                                      timeout=ANSWER_SECONDS)
                return
            except TimeoutError:
                self.forget_again += 1

    async def rows(self, table: type[HousekeepingRow] | type[Report]) -> int:
        async with self.deployment.database() as db, db.sessionmaker() as session:
            return await session.scalar(select(func.count()).select_from(table)) or 0

    async def stored(self) -> set[str]:
        async with self.deployment.database() as db, db.sessionmaker() as session:
            return set((await session.scalars(select(Report.case_reference))).all())


async def _enrolled(api: LocalBotApi, deployment: Deployment) -> None:
    """A caseworker enrolled and approved with the real CLI, before any fault is injected."""
    chat = api.open_chat(CASEWORKER_CHAT, "Amina", language_code="en")
    async with deployment.bot():
        await deployment.enroll_and_approve(chat, "amina")


async def test_many_reporters_with_faults_and_restarts_lose_nothing(tmp_path: Path) -> None:
    async with LocalBotApi.running(seed=16) as api:
        deployment = Deployment(api, tmp_path, delivery=FAST_DELIVERY, limits=SOAK_LIMITS)
        await _enrolled(api, deployment)
        soak = Soak(api, deployment)
        soak.install_faults()
        async with contextlib.AsyncExitStack() as stack:
            bot = OneProcess(deployment, stack)
            await bot.start()
            await soak.run(bot)
        stored = await soak.stored()
    _check(soak, stored, {"backend": "sqlite"})


@pytest.mark.postgres
async def test_several_instances_with_faults_restarts_and_the_leader_killed_lose_nothing(
    tmp_path: Path, postgres_database: str
) -> None:
    async with LocalBotApi.running(seed=16) as api:
        deployment = Deployment(api, tmp_path, database_url=postgres_database,
                                delivery=FAST_DELIVERY, limits=SOAK_LIMITS)
        await _enrolled(api, deployment)
        soak = Soak(api, deployment)
        soak.install_faults()
        async with (
            running_cluster(deployment, instances=INSTANCES,
                            takeover_seconds=TAKEOVER_SECONDS) as cluster,
            Instances(cluster).supervised() as bot,
        ):
            await soak.run(bot)
        stored = await soak.stored()
    _check(soak, stored, {"backend": "postgresql", "instances": INSTANCES,
                          "takeover_seconds": bot.takeover_seconds,
                          "leaderships_lost": bot.leaderships_lost()})
    before, after = bot.leaders
    assert before is not None
    assert after is not None
    assert after != before, "the leader changed"
    assert len(bot.takeover_seconds) == 1, "a standby took over"


def _check(soak: Soak, stored: set[str], run: dict[str, Any]) -> None:
    """Print the run's figures as one JSON line, then hold them to I8 (and memory, full run)."""
    repeats = sum(count - 1 for count in soak.delivered.values())
    figures = {
        **run,
        "reporters": SOAK.reporters, "seconds": SOAK.seconds, "receipts_shown": len(soak.shown),
        "reports_stored": len(stored), "attempts_failed": dict(soak.attempts_failed),
        "faults_served": dict(soak.served), "repeated_files": repeats,
        "undelivered": soak.undelivered, "drained_after_seconds": soak.drained_after,
        "final_forget_again": soak.forget_again,
        "lost_document_acks": soak.lost_document_acks, "memory_kib": soak.memory_kib,
        "memory_series_kib": soak.memory_series_kib,
    }
    print(json.dumps({"soak": figures}))
    assert soak.shown, "no reporter got through: the soak measured nothing"
    assert set(soak.shown) <= stored
    assert soak.undelivered == 0
    assert repeats <= soak.lost_document_acks
    if SOAK.memory_bound:
        assert soak.memory_kib["end"] <= 1.10 * soak.memory_kib["mark"]
