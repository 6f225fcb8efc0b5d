"""The first-run failures an operator meets are one line each, naming what to look at.

Every test runs the real ``sanad`` as a process and asserts its exact stderr and exit status:
``sanad: ...`` and ``hint: ...``, exit 1, no traceback, no "unexpected error". Each of them
failed before (``sanad: unexpected error (NetworkError)`` / ``(InvalidToken)`` / ``(OSError)``, or
"the database could not be opened or migrated" naming nothing).

The failures are real, not simulated: a closed local port for an unreachable Bot API or
PostgreSQL, the project's local Bot API server (which answers 401 to an unknown token), and
small tmpfs mounts for a read-only folder (remounted read-only: the tests run as root, whom
``chmod`` does not stop) and a full disk.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.bot_identity import certify_bot
from bot.local_api.server import LocalBotApi
from crypto.keys import OrganisationKeys
from tests.delivery.conftest import TOKEN_ENV, config_text
from tests.support.mounts import fill, remount_read_only

pytestmark = pytest.mark.slow

SANAD = (sys.executable, "-m", "bot.cli")
TOKEN = "123456:" + "A" * 35
PASSWORD = "canaryPASSWORD42"  # must never be printed


@dataclass(frozen=True)
class Deployment:
    config: Path
    state_dir: Path
    database: Path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def deploy(
    folder: Path,
    *,
    api_url: str = "http://127.0.0.1:9",
    database: Path | None = None,
    database_url: str | None = None,
    state_dir: Path | None = None,
    certified: bool = True,
) -> Deployment:
    """A configuration (and a certified bot key, so that ``sanad run`` gets past it)."""
    org = OrganisationKeys.generate()
    state_dir = state_dir or folder / "state"
    database = database or folder / "sanad.sqlite3"
    config = folder / "config.toml"
    config.write_text(
        config_text(
            api_url=api_url,
            database_url=database_url or f"sqlite+aiosqlite:///{database}",
            org=org,
            state_dir=state_dir,
            delivery={"batch_interval_seconds": 600.0, "jitter_seconds": 0.0},
        )
    )
    if certified:
        certify_bot(state_dir, org.signing)
    return Deployment(config, state_dir, database)


def sanad(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SANAD, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, TOKEN_ENV: TOKEN, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], message: str, hint: str) -> None:
    """Exit 1, and stderr ends with exactly the message and hint lines (logs may come first)."""
    assert result.returncode == 1, result.stderr
    assert result.stderr.endswith(f"sanad: {message}\nhint: {hint}\n"), result.stderr
    assert "Traceback" not in result.stderr
    assert "unexpected error" not in result.stderr


# -- the Bot API ---------------------------------------------------------------------------------


def test_unreachable_bot_api_names_its_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    deployment = deploy(tmp_path, api_url=url)
    result = sanad("run", "--config", deployment.config)
    assert_one_line(
        result,
        f"the Bot API at {url} cannot be reached",
        "check telegram.api_base_url and this server's network access (proxy, firewall)",
    )


def test_refused_token_names_its_variable_never_the_token(tmp_path: Path) -> None:
    with LocalBotApi.in_thread() as server:
        url = server.call(lambda api: api.url)  # knows no bot: every token gets 401
        deployment = deploy(tmp_path, api_url=url)
        result = sanad("run", "--config", deployment.config)
    assert_one_line(
        result,
        f"the Bot API at {url} refused the token from the environment variable {TOKEN_ENV}",
        "put there the token @BotFather gave you (revoked tokens are refused too), "
        "and check telegram.api_base_url",
    )
    assert TOKEN not in result.stdout + result.stderr
    assert TOKEN.split(":")[1] not in result.stdout + result.stderr


# -- folders and disks ---------------------------------------------------------------------------


def test_read_only_state_folder_is_named(tmp_path: Path, tmpfs: Path) -> None:
    remount_read_only(tmpfs)
    deployment = deploy(tmp_path, state_dir=tmpfs, certified=False)
    result = sanad("run", "--config", deployment.config)
    assert_one_line(
        result,
        f"the state folder {tmpfs} is not writable",
        "make it a folder the user running sanad can write to, or point server.state_dir at one",
    )


def test_read_only_database_folder_is_named(tmp_path: Path, tmpfs: Path) -> None:
    remount_read_only(tmpfs)
    deployment = deploy(tmp_path, database=tmpfs / "sanad.sqlite3")
    hint = "make it a folder the user running sanad can write to, or point database.url at one"
    for command in (("run",), ("db", "upgrade"), ("admin", "status")):
        result = sanad(*command, "--config", deployment.config)
        assert_one_line(result, f"the database folder {tmpfs} is not writable", hint)


def test_a_file_where_the_database_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    deployment = deploy(tmp_path, database=tmp_path / "data" / "sanad.sqlite3")
    result = sanad("db", "upgrade", "--config", deployment.config)
    assert_one_line(
        result,
        f"the database folder {tmp_path / 'data'} is not writable",
        "make it a folder the user running sanad can write to, or point database.url at one",
    )


def test_full_disk_under_the_database_is_said(tmp_path: Path, tmpfs: Path) -> None:
    fill(tmpfs)
    with LocalBotApi.in_thread() as server:
        server.call(lambda api: api.add_bot(TOKEN))  # `run` migrates once getMe has answered
        url = server.call(lambda api: api.url)
        deployment = deploy(tmp_path, api_url=url, database=tmpfs / "sanad.sqlite3")
        for command in (("db", "upgrade"), ("run",)):
            result = sanad(*command, "--config", deployment.config)
            assert_one_line(
                result,
                f"the disk holding the database folder {tmpfs} is full",
                "free space on that disk, then run the command again",
            )


def test_full_disk_under_the_state_folder_is_said(tmp_path: Path, tmpfs: Path) -> None:
    fill(tmpfs)
    deployment = deploy(tmp_path, state_dir=tmpfs, certified=False)
    result = sanad("run", "--config", deployment.config)
    assert_one_line(
        result,
        f"the disk holding the state folder {tmpfs} is full",
        "free space on that disk, then run the command again",
    )


# -- PostgreSQL ----------------------------------------------------------------------------------


def test_postgres_down_names_host_and_database_never_the_password(tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql+asyncpg://sanad:{PASSWORD}@127.0.0.1:{port}/sanad"
    deployment = deploy(tmp_path, database_url=url)
    hint = "check that PostgreSQL is running and that database.url names its host and port"
    for command in (("db", "upgrade"), ("admin", "caseworkers")):
        result = sanad(*command, "--config", deployment.config)
        assert_one_line(
            result, f"PostgreSQL at 127.0.0.1:{port} cannot be reached (database sanad)", hint
        )
        assert PASSWORD not in result.stdout + result.stderr


def test_postgres_refusing_the_database_is_said(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres:{PASSWORD}@127.0.0.1:5432/no_such_database"
    deployment = deploy(tmp_path, database_url=url)
    result = sanad("db", "upgrade", "--config", deployment.config)
    assert_one_line(
        result,
        "PostgreSQL at 127.0.0.1:5432 refused the connection to database no_such_database",
        "check the user, password and database name in database.url",
    )
    assert PASSWORD not in result.stdout + result.stderr


# -- any other file a command is told to write ---------------------------------------------------


def test_a_key_folder_on_a_read_only_mount_is_one_line_naming_it(
    tmp_path: Path, tmpfs: Path
) -> None:
    remount_read_only(tmpfs)
    result = sanad(
        "org", "new-recovery", "--out", tmpfs / "keys", env={"SANAD_PASSPHRASE": "x" * 16}
    )
    assert_one_line(
        result,
        f"read-only file system: {tmpfs / 'keys'}",
        "that file system is mounted read-only: choose another folder",
    )
