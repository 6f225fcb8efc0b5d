"""SQLite: a delivery claimed by a bot that died goes out at the next start, not after its lease.

One ``sanad run`` holds a SQLite database (``bot.instance_lock``), so whatever is claimed when it
starts was claimed by a process that was killed mid-send. Without the release the file would
wait out the claim's ten-minute lease (I8: delivered, and late only by the restart).
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from sqlalchemy import select

from bot.local_api import LocalBotApi
from storage import outbox
from storage.models import OutboxEntry
from tests.lifecycle_retention.conftest import bot_as_run
from tests.storage.helpers import pending_deliveries


async def test_a_dead_bots_claims_are_released_when_the_next_one_starts(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    async with LocalBotApi.running() as api, bot_as_run(api, tmp_path) as (runtime, _app):
        # A report with the recovery key's wrap, as every stored report has.
        recovery = runtime.config.organisation.recovery_public_key
        await pending_deliveries(runtime.database, 2, not_before=now,
                                 wraps={recovery.key_id: secrets.token_bytes(80)})
        claimed = await outbox.claim_batch(
            runtime.database, worker="killed", now=now, limit=1, lease=dt.timedelta(minutes=10),
        )
        assert len(claimed) == 1
        # The process dies holding the claim; the next start prepares the same database.
        await runtime.prepare()
        async with runtime.database.sessionmaker() as session:
            rows = (await session.scalars(select(OutboxEntry))).all()
    assert len(rows) == 2
    assert all(row.claimed_by is None and row.claimed_until is None for row in rows)
    assert [row.attempts for row in rows] == [0, 0]  # a release is not a failed attempt
