"""``/forget`` with no conversation open, after messages answered outside one (I7).

Found by the state machine (tests/reliability/test_stateful_regressions.py): free text outside a
conversation is answered, and both messages are held for the erase job for
``OUTSIDE_HOLD`` (two minutes) so the answer can be read. A ``/forget`` sent meanwhile erases
itself but left them: the chat was not empty when the reporter asked for it to be. Now every
flow that empties the chat takes the held outside messages with its own.
"""

from __future__ import annotations

from pathlib import Path

from bot.local_api import LocalBotApi
from tests.reliability.conftest import make_deployment, polling_bot


async def test_forget_outside_a_conversation_empties_the_chat_at_once(tmp_path: Path) -> None:
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        async with polling_bot(make_deployment(api, tmp_path), token):
            chat = api.open_chat(5_550_003, "Nour")
            await chat.send_text("hello")
            await chat.wait_for(lambda m: m.from_bot)
            await chat.send_command("forget")
            await chat.wait_until(lambda: not chat.messages(), timeout=3)
