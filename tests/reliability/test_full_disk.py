"""A disk that fills between the free-space check and the write (DESIGN.md §7, I8).

The bot checks free room before it commits a report (handlers.budget.FreeDisk). Another writer
can take the room after the check; SQLite's write then fails with SQLITE_FULL. The reporter must
read the same translated answer as for a disk found full beforehand — nothing was kept, try
later, your answers are still here — the database must stay intact, and once there is room
again the same draft goes through.

The database lives on a small tmpfs, filled for real; only the check is told there is room, as
the race would leave it. Without the right to mount, the test is skipped with that reason.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.local_api import LocalBotApi
from handlers.budget import FreeDisk
from handlers.chat import NO_ROOM
from tests.handlers.conftest import Reporter, answer_to_narrative, begin, finish_from_links
from tests.reliability.conftest import LIMITS, make_deployment, polling_bot
from tests.support.mounts import fill


def _reports(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return int(connection.execute("SELECT count(*) FROM reports").fetchone()[0])


async def test_a_disk_full_at_commit_says_nothing_was_kept_and_the_draft_goes_through_later(
    tmpfs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FreeDisk, "has_room", lambda _self, _extra=0: True)
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        deployment = make_deployment(api, tmpfs / "deployment",
                                     limits={**LIMITS, "min_free_disk_bytes": 1})
        async with polling_bot(deployment, token):
            chat = api.open_chat(5_550_002, "Salma", language_code="fr")
            reporter = Reporter(chat, "fr")
            await begin(reporter)
            await answer_to_narrative(reporter)
            await reporter.say("Ce qui s'est passé.", until=lambda m: bool(m.buttons))
            await finish_from_links(reporter)

            fill(tmpfs)
            await reporter.press("Submit")
            await chat.wait_for(lambda m: reporter._(NO_ROOM) in (m.text or ""), timeout=20)
            assert _reports(deployment.database_path) == 0

            (tmpfs / "filler").unlink()
            receipt = await reporter.press("Submit")
            assert "reçu" in (receipt.text or "").lower()
            assert _reports(deployment.database_path) == 1
