"""``sanad db upgrade`` run as a real subprocess, as an operator or a deploy script runs it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from crypto.keys import ORG_SIGNING_PREFIX, Ed25519SigningKey, X25519SecretKey
from storage.models import Base
from tests.config.conftest import minimal_toml

PASSWORD = "canaryDBPASSWORD7"


def _org_keys() -> tuple[str, str]:
    signing = Ed25519SigningKey.generate().public_key.to_text(ORG_SIGNING_PREFIX)
    return signing, X25519SecretKey.generate().public_key.to_text()


def _sanad(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = shutil.which("sanad")
    command = [script] if script else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env={**os.environ, "SANAD_TEST_TOKEN": "1:x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_db_upgrade_migrates_the_configured_sqlite_file(tmp_path: Path) -> None:
    config = tmp_path / "deploy" / "sanad.toml"
    config.parent.mkdir()
    config.write_text(minimal_toml(_org_keys()))
    result = _sanad("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("database is up to date")
    database = config.parent / "state" / "sanad.sqlite3"  # relative to the configuration file
    with sqlite3.connect(database) as raw:
        rows = raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert set(Base.metadata.tables) <= {name for (name,) in rows}
    again = _sanad("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_db_upgrade_failure_is_one_line_without_the_password(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    text = minimal_toml(_org_keys()).replace(
        "sqlite+aiosqlite:///state/sanad.sqlite3",
        f"postgresql+asyncpg://sanad:{PASSWORD}@127.0.0.1:1/sanad",
    )
    config.write_text(text)
    result = _sanad("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "sanad: PostgreSQL at 127.0.0.1:1 cannot be reached (database sanad)\n"
        "hint: check that PostgreSQL is running and that database.url names its host and port\n"
    )
    assert PASSWORD not in result.stdout + result.stderr
