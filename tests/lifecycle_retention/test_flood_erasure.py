"""The bot as ``sanad run`` builds it: updates dropped under a flood are erased too (I7).

The per-chat bound of :mod:`bot.update_order` drops a chat's updates past sixteen waiting,
before any handler sees them. The test holds the chat's first update (its answer hangs at the
local Bot API server until PTB gives up), floods the chat behind it, and then checks that every
message left in the chat — dropped ones, refused ones and the answers — is in the rows the
bot's erase journal stored, and that the erase job of the next start empties the chat.
"""

from __future__ import annotations

from pathlib import Path

from bot.jobs.erase import Eraser
from bot.local_api import Fault, LocalBotApi
from bot.local_api.ptb import polling
from bot.services.housekeeping import Housekeeping
from tests.lifecycle_retention.conftest import bot_as_run
from tests.support.processes import until

FLOOD = 30  # past the sixteen updates a chat may have waiting


async def test_updates_dropped_under_a_flood_are_erased_after_a_restart(tmp_path: Path) -> None:
    async with (
        LocalBotApi.running(seed=5) as api,
        bot_as_run(api, tmp_path) as (runtime, application),
    ):
        chat = api.open_chat(7_555_000_222_333, "Reporter")
        async with polling(application):
            api.faults.inject("sendMessage", sequence=[Fault.hang()])
            await chat.send_text("first")
            for index in range(FLOOD):
                await chat.send_text(f"flood {index}")
            sent = {m.message_id for m in chat.messages() if not m.from_bot}
            assert len(sent) == FLOOD + 1

            # A restarted process reads every stored row; nothing is held back from it.
            after_restart = Housekeeping.from_runtime(runtime)

            async def all_stored() -> bool:
                due, _ = await after_restart.due(1000)
                stored = {m for item in due for m in item.target.message_ids}
                return {m.message_id for m in chat.messages()} <= stored

            await until(all_stored, timeout=30)

        async with application:
            await Eraser(Housekeeping.from_runtime(runtime), application.bot).run()
        assert not sent & {m.message_id for m in chat.messages()}
