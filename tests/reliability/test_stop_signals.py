"""A stop signal at any point of ``sanad run``'s start-up is a clean stop, as it is while receiving.

``sanad run`` runs as deployed, in a subprocess against the local Bot API server. The server
holds one start-up call of the bot's (``Spoil.slow``), so the signal lands exactly where the test
means it to, with no sleep: while PTB asks ``getMe`` (before the database is prepared), while it
deletes the webhook to poll (after ``database.ready``), while it sets the webhook in webhook
mode. Each must end as a SIGTERM while receiving ends: exit status 0, ``bot.stopped``, and the
database closed (SQLite removes its WAL file once its last connection closes). While receiving,
the clean stop also hands an open conversation over to housekeeping (I7).

Earlier still, before the event loop runs, the signal is sent while ``sanad run`` reads its
configuration or its token file, each a named pipe the test holds: the process waits in that read
until the test writes the file, so the signal comes exactly then. It must end the same way, and
before the bot has asked Telegram or the database anything.
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import signal
from pathlib import Path

import pytest

from bot.local_api import LocalBotApi, UserChat
from bot.local_api.faults import Spoil
from crypto.keys import OrganisationKeys
from tests.e2e.conftest import postgres_database
from tests.support.calls import CallCounter
from tests.support.processes import sanad_run, until
from tests.webhook.configuration import Scalar, config_toml
from tests.webhook.test_webhook import free_loopback_port

pytestmark = pytest.mark.slow
__all__ = ["postgres_database"]

TOKEN_ENV = "SANAD_TEST_BOT_TOKEN"
SECRET_ENV = "SANAD_WEBHOOK_SECRET"
# Longer than any test waits: the held call is still unanswered when the signal comes.
HELD = 600.0


def webhook_table() -> dict[str, Scalar]:
    port = free_loopback_port()
    return {
        "mode": "webhook",
        "webhook_url": f"http://127.0.0.1:{port}/telegram/{secrets.token_hex(8)}",
        "webhook_listen": "127.0.0.1",
        "webhook_port": port,
        "webhook_secret_env": SECRET_ENV,
    }


async def _logged(log: Path, text: str) -> bool:
    return await asyncio.to_thread(lambda: log.exists() and text in log.read_text())


POINTS = [
    pytest.param("polling", "getMe", False, id="polling-before-database-ready"),
    pytest.param("polling", "deleteWebhook", True, id="polling-after-database-ready"),
    pytest.param("webhook", "getMe", False, id="webhook-before-database-ready"),
    pytest.param("webhook", "setWebhook", True, id="webhook-while-setting-the-webhook"),
]


def write_config(api: LocalBotApi, folder: Path, database_url: str, mode: str) -> Path:
    tables: dict[str, dict[str, Scalar]] = {"database": {"url": database_url}}
    if mode == "webhook":
        tables["telegram"] = webhook_table()
    config = folder / "config.toml"
    config.write_text(config_toml(
        api_url=api.url, folder=folder, org=OrganisationKeys.generate(),
        token_env=TOKEN_ENV, tables=tables,
    ))
    return config


async def ended_cleanly(bot: asyncio.subprocess.Process, log: Path) -> str:
    """``bot``'s log, once it has ended with status 0 and said so, without a traceback."""
    async with asyncio.timeout(60):
        status = await bot.wait()
    text = await asyncio.to_thread(log.read_text)
    assert status == 0, text
    assert "unexpected error" not in text
    assert "Traceback" not in text
    assert text.count("bot.stopped") == 1, text
    return text


async def signalled(bot: asyncio.subprocess.Process, signum: int, log: Path) -> str:
    """Send ``signum`` to ``bot``; its log, once it has ended with status 0 and said so."""
    bot.send_signal(signum)
    return await ended_cleanly(bot, log)


async def stopped_during_start(
    folder: Path, database_url: str, mode: str, held: str, after_ready: bool, signum: int
) -> str:
    """Start ``sanad run``, signal it while the server holds its call of ``held``, and return
    its log once it has ended cleanly."""
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        config = write_config(api, folder, database_url, mode)
        log = folder / "bot.log"
        calls = CallCounter(api)
        api.traffic.spoil(held, Spoil.slow(HELD))
        env = {TOKEN_ENV: token, SECRET_ENV: secrets.token_hex(32)}
        async with sanad_run(config, log, env) as bot:
            await calls.wait_for(held, 1, timeout=60)
            if after_ready:
                await until(lambda: _logged(log, "database.ready"))
            text = await signalled(bot, signum, log)
    assert ("database.ready" in text) is after_ready  # the signal came where it was meant
    return text


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize(("mode", "held", "after_ready"), POINTS)
async def test_stop_signal_during_start_up_is_a_clean_stop(
    tmp_path: Path, signum: signal.Signals, mode: str, held: str, after_ready: bool
) -> None:
    database = tmp_path / "db.sqlite3"
    await stopped_during_start(
        tmp_path, f"sqlite+aiosqlite:///{database}", mode, held, after_ready, signum
    )
    # SQLite removes the WAL file when the last connection closes: the runtime was closed.
    assert not database.with_name("db.sqlite3-wal").exists()


@pytest.mark.parametrize(("mode", "held", "after_ready"), POINTS)
async def test_stop_signal_during_an_instances_start_up_is_a_clean_stop(
    tmp_path: Path, postgres_database: str, mode: str, held: str, after_ready: bool
) -> None:
    """On PostgreSQL (one instance among several, bot.leadership): the same."""
    log = await stopped_during_start(
        tmp_path, postgres_database, mode, held, after_ready, signal.SIGTERM
    )
    # After the database was ready, the signal came as the leader set out to receive updates.
    assert ("standby.ready" in log) is after_ready
    assert "leader.receiving" not in log


async def writer_once_read(fifo: Path) -> int:
    """A descriptor writing into the named pipe ``fifo`` once a process has opened it to read:
    from then on that process waits in its read until the descriptor is closed."""
    async with asyncio.timeout(60):
        while True:
            try:
                return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
            await asyncio.sleep(0.02)


def feed(writer: int, contents: str) -> None:
    """Write ``contents`` and close: the reader reads the whole file. A reader the signal killed
    is not an error here; its exit status says so."""
    try:
        os.write(writer, contents.encode())
    except BrokenPipeError:
        pass
    finally:
        os.close(writer)


async def stopped_while_reading(
    folder: Path, database_url: str, reading: str, signum: int
) -> str:
    """Start ``sanad run`` with its configuration or its token file (``reading``) a named pipe,
    signal it while it waits in that read, then let it read the file; its log once it has ended
    cleanly, having asked Telegram nothing."""
    config, token_file = folder / "config.toml", folder / "bot-token"
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        calls = CallCounter(api)
        text = config_toml(
            api_url=api.url, folder=folder, org=OrganisationKeys.generate(), token_env=None,
            tables={"database": {"url": database_url},
                    "telegram": {"token_file": str(token_file)}},
        )  # fmt: skip
        files = {config: text, token_file: token}
        held = config if reading == "configuration" else token_file
        for path, contents in files.items():
            if path == held:
                os.mkfifo(path, 0o600)
            else:
                path.write_text(contents)
                path.chmod(0o600)
        log = folder / "bot.log"
        async with sanad_run(config, log, {}) as bot:
            writer = await writer_once_read(held)
            bot.send_signal(signum)
            feed(writer, files[held])
            logged = await ended_cleanly(bot, log)
        assert calls["getMe"] == 0
    assert "database.ready" not in logged
    return logged


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("reading", ["configuration", "token"])
async def test_stop_signal_before_the_event_loop_is_a_clean_stop(
    tmp_path: Path, signum: signal.Signals, reading: str
) -> None:
    database = tmp_path / "db.sqlite3"
    await stopped_while_reading(tmp_path, f"sqlite+aiosqlite:///{database}", reading, signum)
    assert not database.with_name("db.sqlite3-wal").exists()


async def test_stop_signal_before_an_instances_event_loop_is_a_clean_stop(
    tmp_path: Path, postgres_database: str
) -> None:
    """On PostgreSQL: the same, and the instance never stood by."""
    log = await stopped_while_reading(
        tmp_path, postgres_database, "configuration", signal.SIGTERM
    )
    assert "standby.ready" not in log


async def in_conversation(chat: UserChat) -> None:
    await chat.send_command("start")
    await chat.wait_for(lambda m: m.from_bot and bool(m.buttons), timeout=60)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_stop_signal_while_receiving_hands_the_open_conversation_over(
    tmp_path: Path, mode: str
) -> None:
    database = tmp_path / "db.sqlite3"
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        config = write_config(api, tmp_path, f"sqlite+aiosqlite:///{database}", mode)
        log = tmp_path / "bot.log"
        env = {TOKEN_ENV: token, SECRET_ENV: secrets.token_hex(32)}
        async with sanad_run(config, log, env) as bot:
            await in_conversation(api.open_chat(1001, "Amal"))
            text = await signalled(bot, signal.SIGTERM, log)
    assert "report_handover conversations=1" in text
    assert not database.with_name("db.sqlite3-wal").exists()
