"""The submission service under load: its own Argon2id lane, a line instead of "busy", free disk.

The real service, a real SQLite file, real Argon2id and libsodium.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.config import load_config
from bot.services.report_submission import free_disk, report_flow_settings
from crypto import Busy, KdfPool, Lane
from crypto.keys import ORG_SIGNING_PREFIX, Ed25519SigningKey, X25519SecretKey
from handlers.budget import FreeDisk
from handlers.draft import Draft
from handlers.ports import SubmissionNoRoom
from tests.config.conftest import minimal_toml
from tests.handlers.e2e import deployment, stored_reports


def _draft(text: str = "They posted my address") -> Draft:
    return Draft(language="en", incident_type="doxxing", what_happened=text)


def _reports(path: Path) -> int:
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT count(*) FROM reports").fetchone()
    return int(count)


async def test_a_submission_is_sealed_while_receipt_lookups_fill_their_lane(tmp_path: Path) -> None:
    gate = threading.Event()
    async with deployment(tmp_path) as deployed:
        pool = deployed.service._kdf_pool
        guesses = [asyncio.ensure_future(pool.run(gate.wait)) for _ in range(pool.max_waiting + 1)]
        try:
            await asyncio.sleep(0.05)
            with pytest.raises(Busy):  # a flood of guesses has filled the look-up lane
                await pool.run(lambda: None)
            submission = await asyncio.wait_for(deployed.service.submit(_draft()), 30)
            assert submission.case_reference
        finally:
            gate.set()
            await asyncio.gather(*guesses)
        assert _reports(deployed.path) == 1


async def test_thirty_simultaneous_submissions_are_all_committed_none_busy(tmp_path: Path) -> None:
    async with deployment(tmp_path) as deployed:
        # Look-ups may not wait at all: only the submission lane's line holds the burst.
        pool = KdfPool(0)
        deployed.service._kdf_pool = pool
        try:
            outcomes = await asyncio.gather(
                *(deployed.service.submit(_draft(f"burst {i}")) for i in range(30)),
                return_exceptions=True,
            )
        finally:
            pool.close()
        assert [type(o).__name__ for o in outcomes if isinstance(o, BaseException)] == []
        assert len({o.case_reference for o in outcomes if not isinstance(o, BaseException)}) == 30
        assert len(await stored_reports(deployed.database)) == 30
        assert pool.lane_depth(Lane.SUBMISSION) == 0


async def test_a_report_the_disk_cannot_hold_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    async with deployment(tmp_path) as deployed:
        room = [10**12]
        deployed.service._free_disk = FreeDisk((tmp_path,), 10**6, free_bytes=lambda _p: room[0])
        await deployed.service.submit(_draft())
        room[0] = 10**6 + 100  # less than the sealed report needs on top of the minimum
        with pytest.raises(SubmissionNoRoom):
            await deployed.service.submit(_draft())
        assert _reports(deployed.path) == 1


def test_the_disk_checked_is_the_state_directory_and_the_sqlite_files(tmp_path: Path) -> None:
    signing = Ed25519SigningKey.generate().public_key.to_text(ORG_SIGNING_PREFIX)
    recovery = X25519SecretKey.generate().public_key.to_text()
    text = minimal_toml((signing, recovery), tables="[limits]\nmin_free_disk_bytes = 12345\n")
    text = text.replace("sqlite+aiosqlite:///state/", f"sqlite+aiosqlite:///{tmp_path}/db/")
    path = tmp_path / "config.toml"
    path.write_text(text)
    config = load_config(path)
    disk = free_disk(config)
    assert disk.min_free_bytes == 12345
    assert set(disk.paths) == {config.server.state_dir, tmp_path / "db"}
    assert report_flow_settings(config).free_disk == disk
