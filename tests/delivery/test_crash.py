"""Crashes: ``sanad run`` as a real subprocess, killed with SIGKILL at chosen points (I8).

The test watches the local Bot API server's incoming ``sendDocument`` calls and the outbox to
know where the bot is, and kills it there. A claim's lease (ten minutes in production) is made to
run out by moving ``claimed_until`` back in the database rather than by waiting.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.local_api import Fault, LocalBotApi, UserChat
from crypto import read_sealed_file
from crypto.keys import OrganisationKeys
from storage.engine import Database
from storage.models import DeliveryStatus
from tests.support.calls import CallCounter
from tests.support.processes import kill, sanad_run, until

from .conftest import (
    TOKEN_ENV,
    EnrolledCaseworker,
    QueuedReport,
    caseworker_chat,
    certified_state_dir,
    config_text,
    enrol_caseworker,
    expire_claims,
    outbox_rows,
    queue_report,
)

pytestmark = pytest.mark.slow

DELIVERY = {"batch_interval_seconds": 0.2, "jitter_seconds": 0.1, "backoff_cap_seconds": 0.2}


class Deployment:
    """A configuration file, its database and the local server, for ``sanad run`` to use."""

    def __init__(self, api: LocalBotApi, db: Database, org: OrganisationKeys, tmp: Path) -> None:
        self.api = api
        self.db = db
        self.org = org
        self.token = api.add_bot()
        self.config = tmp / "config.toml"
        self.log = tmp / "bot.log"
        assert db.sqlite_path is not None
        self.config.write_text(
            config_text(
                api_url=api.url,
                database_url=f"sqlite+aiosqlite:///{db.sqlite_path}",
                org=org,
                state_dir=certified_state_dir(tmp / "state", org),
                delivery=DELIVERY,
            )
        )
        self.calls = CallCounter(api)

    @property
    def send_calls(self) -> int:
        return self.calls["sendDocument"]

    async def wait_for_send_calls(self, count: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        await self.calls.wait_for("sendDocument", count, timeout)

    @asynccontextmanager
    async def bot(self) -> AsyncIterator[asyncio.subprocess.Process]:
        """``sanad run`` in a subprocess; SIGKILLed on leaving if still alive."""
        async with sanad_run(self.config, self.log, {TOKEN_ENV: self.token}) as process:
            yield process

    async def chat_with(self, chat_id: int) -> tuple[EnrolledCaseworker, UserChat]:
        await caseworker_chat(self.api, chat_id)
        return await enrol_caseworker(self.db, self.org, chat_id=chat_id), self.api.chat(chat_id)

    def assert_log_withholds(self, reports: list[QueuedReport]) -> None:
        """The bot's log names events and counts, never a report's words or case reference."""
        text = self.log.read_text(errors="replace")
        for report in reports:
            assert report.canary not in text
            assert report.case_reference not in text


def arrivals(org: OrganisationKeys, *chats: UserChat) -> Counter[tuple[str, int]]:
    """How many files of each (case reference, sequence) the caseworkers' chats hold."""
    counted: Counter[tuple[str, int]] = Counter()
    for chat in chats:
        for message in chat.bot_messages():
            if message.document is not None:
                sealed = read_sealed_file(chat.download(message), org.signing.public_key)
                counted[(sealed.case_reference, sealed.sequence)] += 1
    return counted


@pytest.fixture
async def deployment(
    api: LocalBotApi, db: Database, org: OrganisationKeys, tmp_path: Path
) -> Deployment:
    return Deployment(api, db, org, tmp_path)


async def all_sent(db: Database) -> bool:
    return all(row.status is DeliveryStatus.SENT for row in await outbox_rows(db))


async def test_kill_after_claim_before_send_delivers_exactly_once_at_the_restart(
    deployment: Deployment,
) -> None:
    caseworker, chat = await deployment.chat_with(7001)
    report = await queue_report(deployment.db, deployment.org, caseworker)
    # The first send never answers: the bot has claimed the row and is inside the call.
    deployment.api.faults.inject("sendDocument", sequence=[Fault.hang()])

    async with deployment.bot() as process:
        await deployment.wait_for_send_calls(1)
        await kill(process)
    [row] = await outbox_rows(deployment.db)
    assert row.status is DeliveryStatus.PENDING
    assert row.claimed_by is not None
    assert row.attempts == 0
    assert arrivals(deployment.org, chat) == {}

    async with deployment.bot():
        # SQLite has one sanad run: the dead process's claim is released at the start, so the
        # file goes now rather than after the claim's ten-minute lease.
        await until(lambda: all_sent(deployment.db))
        await asyncio.sleep(0.6)  # a few more batches: nothing more may arrive
    assert deployment.send_calls == 2
    assert arrivals(deployment.org, chat) == {(report.case_reference, 0): 1}
    deployment.assert_log_withholds([report])


async def test_kill_after_the_commit_that_records_a_send_never_sends_again(
    deployment: Deployment,
) -> None:
    caseworker, chat = await deployment.chat_with(7002)
    first = await queue_report(deployment.db, deployment.org, caseworker)

    async with deployment.bot() as process:
        await until(lambda: all_sent(deployment.db))
        await kill(process)
    second = await queue_report(deployment.db, deployment.org, caseworker)

    async with deployment.bot():
        # The second report arriving proves the restarted bot has been forwarding.
        await until(lambda: all_sent(deployment.db))
        await asyncio.sleep(0.6)
    assert arrivals(deployment.org, chat) == {
        (first.case_reference, 0): 1,
        (second.case_reference, 0): 1,
    }
    deployment.assert_log_withholds([first, second])


async def test_lost_acknowledgement_repeats_one_recognisable_file(
    deployment: Deployment,
) -> None:
    caseworker, chat = await deployment.chat_with(7003)
    report = await queue_report(deployment.db, deployment.org, caseworker)
    # Telegram delivers the file but the answer never comes back, and then the bot dies:
    # the one window in which I8 allows a repeat.
    deployment.api.faults.inject("sendDocument", sequence=[Fault.hang(after_effect=True)])

    async with deployment.bot() as process:
        await deployment.wait_for_send_calls(1)
        await kill(process)
    await expire_claims(deployment.db)
    async with deployment.bot():
        await until(lambda: all_sent(deployment.db))

    files = [m for m in chat.bot_messages() if m.document is not None]
    assert len(files) == 2
    # The repeat says what it is: same caption, same file name, the very same bytes.
    assert files[0].caption == files[1].caption == f"{report.case_reference} #0"
    assert files[0].document is not None
    assert files[1].document is not None
    assert files[0].document.file_name == files[1].document.file_name
    assert chat.download(files[0]) == chat.download(files[1])


async def test_kill_at_a_random_moment_of_a_large_batch_loses_nothing_and_repeats_at_most_one(
    deployment: Deployment,
) -> None:
    chats: list[UserChat] = []
    reports: list[QueuedReport] = []
    for chat_id in range(7100, 7108):
        caseworker, chat = await deployment.chat_with(chat_id)
        chats.append(chat)
        reports += [await queue_report(deployment.db, deployment.org, caseworker) for _ in range(6)]
    kill_after = random.Random(8).randint(5, len(reports) - 5)

    async with deployment.bot() as process:
        await deployment.wait_for_send_calls(kill_after)
        await kill(process)
    delivered_before = sum(arrivals(deployment.org, *chats).values())
    assert delivered_before < len(reports)  # the kill did land mid-batch
    await expire_claims(deployment.db)
    async with deployment.bot():
        await until(lambda: all_sent(deployment.db), timeout=30)
        await asyncio.sleep(0.6)

    counted = arrivals(deployment.org, *chats)
    assert set(counted) == {(r.case_reference, 0) for r in reports}  # nothing lost
    assert sum(counted.values()) - len(reports) <= 1  # at most the one file in flight repeats
    deployment.assert_log_withholds(reports)
