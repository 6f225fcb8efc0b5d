"""A disk that fills between the free-space check and the write (DESIGN.md §7, I8).

The bot checks free room before it commits a report (handlers.budget.FreeDisk). Another writer
can take the room after the check; SQLite's write then fails with SQLITE_FULL. The reporter must
read the same translated answer as for a disk found full beforehand — nothing was kept, try
later, your answers are still here — the database must stay intact, and once there is room
again the same draft goes through.

The first test puts the database on a small tmpfs and fills it for real (skipped, with that
reason, where mounting is not allowed); the second injects ENOSPC into the commit, so the answer
is checked on any machine. In both, only the check is told there is room, as the race leaves it.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.local_api import LocalBotApi
from bot.services import report_submission
from handlers.budget import FreeDisk
from handlers.chat import NO_ROOM
from tests.handlers.conftest import Reporter, answer_to_narrative, begin, finish_from_links
from tests.reliability.conftest import LIMITS, make_deployment, polling_bot
from tests.support.mounts import fill


def _reports(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return int(connection.execute("SELECT count(*) FROM reports").fetchone()[0])


async def _submit_while_full(
    folder: Path, fill_disk: Callable[[], None], free_disk: Callable[[], None]
) -> None:
    """A report up to its review, Submit on a full disk, then Submit again with room."""
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        deployment = make_deployment(api, folder, limits={**LIMITS, "min_free_disk_bytes": 1})
        async with polling_bot(deployment, token):
            chat = api.open_chat(5_550_002, "Salma", language_code="fr")
            reporter = Reporter(chat, "fr")
            await begin(reporter)
            await answer_to_narrative(reporter)
            await reporter.say("Ce qui s'est passé.", until=lambda m: bool(m.buttons))
            await finish_from_links(reporter)

            fill_disk()
            await reporter.press("Submit")
            await chat.wait_for(lambda m: reporter._(NO_ROOM) in (m.text or ""), timeout=20)
            assert _reports(deployment.database_path) == 0

            free_disk()
            receipt = await reporter.press("Submit")
            assert "reçu" in (receipt.text or "").lower()
            assert _reports(deployment.database_path) == 1


@pytest.fixture(autouse=True)
def room_at_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The free-space check passes: the disk fills after it, as in the race."""
    monkeypatch.setattr(FreeDisk, "has_room", lambda _self, _extra=0: True)


async def test_a_disk_filled_for_real_at_commit_says_nothing_was_kept(tmpfs: Path) -> None:
    await _submit_while_full(
        tmpfs / "deployment", lambda: fill(tmpfs), (tmpfs / "filler").unlink
    )


async def test_enospc_at_commit_says_nothing_was_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_store = report_submission.store_report

    async def no_space(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    await _submit_while_full(
        tmp_path,
        lambda: monkeypatch.setattr(report_submission, "store_report", no_space),
        lambda: monkeypatch.setattr(report_submission, "store_report", real_store),
    )
