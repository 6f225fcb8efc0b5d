"""``/forget`` with no conversation open, after messages answered outside one (I7).

Found by the state machine (tests/reliability/test_stateful_regressions.py): free text outside a
conversation is answered, and both messages are held for the erase job for
``OUTSIDE_HOLD`` (two minutes) so the answer can be read. A ``/forget`` sent meanwhile erases
itself but leaves them: the chat is not empty when the reporter asked for it to be. Marked as an
expected failure until ``/forget`` also takes the held messages (strict: fixing it fails this
mark, so the mark is removed with the fix).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.local_api import LocalBotApi
from tests.reliability.conftest import make_deployment, polling_bot


@pytest.mark.xfail(strict=True, reason="/forget leaves messages held for the erase job")
async def test_forget_outside_a_conversation_empties_the_chat_at_once(tmp_path: Path) -> None:
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        async with polling_bot(make_deployment(api, tmp_path), token):
            chat = api.open_chat(5_550_003, "Nour")
            await chat.send_text("hello")
            await chat.wait_for(lambda m: m.from_bot)
            await chat.send_command("forget")
            await chat.wait_until(lambda: not chat.messages(), timeout=3)
