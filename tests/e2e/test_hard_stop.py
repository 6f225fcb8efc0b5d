"""A bot killed outright leaves nothing on the phone once it is started again (I7).

``sanad run`` is SIGKILLed — no ``post_stop``, no hand-over, as after running out of memory or a
power loss — with a reporter in the middle of a report, or just after ``/help``. The test waits
until the bot's own sealed rows (opened with the keys in its state directory, as its next start
will) cover every message in the chat, kills it, starts it again, and then the chat as the
reporter sees it (the local Bot API server's view) must be empty within the erase job's first
run: it runs a second after start, the next one only a minute later.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.local_api import LocalBotApi, UserChat
from bot.services.housekeeping import Housekeeping, HousekeepingKeyring
from storage.models import Housekeeping as HousekeepingRow
from tests.handlers.conftest import Reporter, begin
from tests.support.processes import kill, until

from .conftest import Deployment

pytestmark = pytest.mark.slow

# Well inside the erase job's one-minute interval: passing proves its first run did it.
FIRST_RUN = 30.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def killed(request: pytest.FixtureRequest, api: LocalBotApi, tmp_path: Path) -> Deployment:
    """The deployment on SQLite or on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return Deployment(api, tmp_path)
    return Deployment(api, tmp_path, database_url=request.getfixturevalue("postgres_database"))


def reporter_chat(deployment: Deployment) -> UserChat:
    chat_id = 7_300_000_000_000 + secrets.randbelow(10**9)
    return deployment.api.open_chat(chat_id, "Salma", language_code="en")


async def stored_for(deployment: Deployment, chat: UserChat) -> set[int]:
    """The message ids of ``chat`` in the bot's stored erase targets, as a new process reads
    them (with the state directory's housekeeping keys, holding nothing back)."""
    keyring = HousekeepingKeyring.of_state_dir(deployment.directory / "state")
    async with deployment.database() as db:
        due, _ = await Housekeeping(db, keyring, retention=dt.timedelta(hours=24)).due(1000)
    return {
        m for item in due if item.target.chat_id == chat.chat_id for m in item.target.message_ids
    }


async def wait_until_stored(deployment: Deployment, chat: UserChat) -> None:
    """Return once every message in ``chat`` is in the bot's stored erase targets."""

    async def all_stored() -> bool:
        return {m.message_id for m in chat.messages()} <= await stored_for(deployment, chat)

    await until(all_stored, timeout=20)


async def rows_left(deployment: Deployment) -> int:
    async with deployment.database() as db, db.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(HousekeepingRow)) or 0


async def test_sigkill_mid_report_leaves_an_empty_chat_after_restart(killed: Deployment) -> None:
    chat = reporter_chat(killed)
    reporter = Reporter(chat)
    async with killed.bot() as bot:
        await begin(reporter)
        await reporter.press("Blackmail or extortion")
        await reporter.say("/help", until=lambda m: "/status" in (m.text or ""))
        await reporter.press("Instagram")
        await wait_until_stored(killed, chat)
        assert len(chat.messages()) >= 4  # the reporter's and the bot's, still on the phone
        await kill(bot)

    async with killed.bot():
        await chat.wait_until(lambda: not chat.messages(), timeout=FIRST_RUN)

        async def no_rows_left() -> bool:  # erased, so gone long before their deadline
            return await rows_left(killed) == 0

        await until(no_rows_left, timeout=10)


async def test_help_and_its_answer_are_erased_after_a_hard_stop(killed: Deployment) -> None:
    chat = reporter_chat(killed)
    async with killed.bot() as bot:
        await chat.send_command("help")
        await chat.wait_for(lambda m: "/start" in (m.text or ""), timeout=10)
        await chat.send_text("is anyone there?")
        await chat.wait_for(lambda m: "/status" in (m.text or ""), timeout=10)
        await wait_until_stored(killed, chat)
        assert len(chat.messages()) == 4
        await kill(bot)

    async with killed.bot():
        await chat.wait_until(lambda: not chat.messages(), timeout=FIRST_RUN)
