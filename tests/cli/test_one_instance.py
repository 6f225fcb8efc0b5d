"""One bot process per SQLite database; another poller with the same token is said once.

Both run real ``sanad run`` processes against the local Bot API server, which ends a
``getUpdates`` with 409 Conflict when another one starts with the same token, as Telegram does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.bot_identity import certify_bot
from bot.local_api.server import LocalBotApi
from bot.update_conflict import CONFLICT_EVENT
from crypto.keys import OrganisationKeys
from tests.delivery.conftest import TOKEN_ENV, config_text
from tests.support.calls import CallCounter
from tests.support.processes import sanad_run, stop, until

pytestmark = pytest.mark.slow

TOKEN = "123456:" + "B" * 35


def write_config(folder: Path, api_url: str, database: Path) -> Path:
    org = OrganisationKeys.generate()
    state_dir = folder / "state"
    config = folder / "config.toml"
    config.write_text(
        config_text(
            api_url=api_url,
            database_url=f"sqlite+aiosqlite:///{database}",
            org=org,
            state_dir=state_dir,
            delivery={"batch_interval_seconds": 600.0, "jitter_seconds": 0.0},
        )
    )
    certify_bot(state_dir, org.signing)
    return config


async def test_second_run_on_one_sqlite_database_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "sanad.sqlite3"
    async with LocalBotApi.running() as api:
        api.add_bot(TOKEN)
        config = write_config(tmp_path, api.url, database)
        first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
        async with sanad_run(config, first_log, {TOKEN_ENV: TOKEN}) as first:
            await until(lambda: _contains(first_log, "database.ready"))
            async with sanad_run(config, second_log, {TOKEN_ENV: TOKEN}) as second:
                async with asyncio.timeout(60):
                    assert await second.wait() == 1
            assert second_log.read_text().endswith(
                f"sanad: another `sanad run` is using the database {database}\n"
                "hint: stop it first: one bot process per SQLite database "
                "(run several only on PostgreSQL)\n"
            )
            assert first.returncode is None  # the first one runs on, untouched
            assert await stop(first) == 0
        # Once it has stopped, the next start takes the lock again. It is stopped once it polls:
        # a stop signal during start-up is test_stop_signals.py's subject, not this test's.
        calls = CallCounter(api)
        async with sanad_run(config, second_log, {TOKEN_ENV: TOKEN}) as third:
            await until(lambda: _contains(second_log, "database.ready"))
            await calls.wait_for("getUpdates", 1, timeout=60)
            assert await stop(third) == 0


async def test_another_poller_with_the_token_is_logged_once(tmp_path: Path) -> None:
    async with LocalBotApi.running() as api:
        api.add_bot(TOKEN)
        logs: list[Path] = []
        configs: list[Path] = []
        for name in ("one", "two"):
            folder = tmp_path / name
            folder.mkdir()
            configs.append(write_config(folder, api.url, folder / "sanad.sqlite3"))
            logs.append(folder / "bot.log")
        env = {TOKEN_ENV: TOKEN}
        async with (
            sanad_run(configs[0], logs[0], env) as one,
            sanad_run(configs[1], logs[1], env) as two,
        ):
            # Each poll ends the other's: wait for both to have seen it, then a while longer.
            await until(lambda: _both(logs, CONFLICT_EVENT), timeout=30)
            await asyncio.sleep(5)
            await stop(one)
            await stop(two)
    for log in logs:
        text = log.read_text()
        assert text.count(CONFLICT_EVENT) == 1, text
        assert "handler_error.Conflict" not in text
        assert TOKEN.split(":")[1] not in text


async def _contains(log: Path, text: str) -> bool:
    return await asyncio.to_thread(lambda: log.exists() and text in log.read_text())


async def _both(logs: list[Path], text: str) -> bool:
    return all([await _contains(log, text) for log in logs])
