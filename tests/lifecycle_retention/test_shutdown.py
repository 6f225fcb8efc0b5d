"""The bot as ``sanad run`` builds it: stopping it seals open conversations for the erase job.

The application from :func:`bot.app.build_application` polls the local Bot API server; a reporter
is half-way through /start when the bot stops. PTB's ``run_polling`` calls ``post_stop`` after
``stop()``; the test does the same, then checks that the conversation's message ids are stored
(sealed) and that the erase job of the next start deletes them from the chat.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.jobs.erase import Eraser
from bot.local_api import LocalBotApi
from bot.local_api.ptb import polling
from bot.services.housekeeping import Housekeeping
from storage.models import Housekeeping as HousekeepingRow
from tests.lifecycle_retention.conftest import bot_as_run


@pytest.mark.parametrize("command", ["start", "status"])
async def test_stopping_the_bot_hands_open_conversations_to_housekeeping(
    tmp_path: Path, command: str
) -> None:
    async with (
        LocalBotApi.running(seed=3) as api,
        bot_as_run(api, tmp_path) as (runtime, application),
    ):
        chat = api.open_chat(7_555_000_111_222, "Reporter")
        async with polling(application):
            await chat.send_command(command)
            await chat.wait_for(lambda m: bool(m.buttons))
        assert application.post_stop is not None
        await application.post_stop(application)

        async with runtime.database.sessionmaker() as session:
            stored = (await session.scalars(select(HousekeepingRow))).all()
        assert len(stored) == 1
        assert chat.messages()  # still in the chat: only sealed ids were kept

        housekeeping = Housekeeping.from_runtime(runtime)
        async with application:
            counts = await Eraser(housekeeping, application.bot).run()
        assert counts.erased == 1
        assert chat.messages() == []
        # The retention, rounded up to the hour (I3).
        assert stored[0].deadline <= dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
