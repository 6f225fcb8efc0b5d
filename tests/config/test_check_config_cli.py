"""``sanad check-config`` run as a real subprocess, as an operator or a deploy script runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bot.bot_identity import certify_bot
from crypto.keys import OrganisationKeys
from tests.config.conftest import minimal_toml, text_forms

TOKEN = "987654321:AAH-canaryTOKENvalue_9"
PASSWORD = "canaryPASSWORD42"


def sanad(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    script = shutil.which("sanad")
    command = [script] if script else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def summary_rows(stdout: str) -> dict[str, str]:
    """check-config's indented "name  value" rows (names are words with single spaces)."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        name, _, value = line.strip().partition("  ")
        rows[name] = value.strip()
    return rows


def test_valid_file_prints_a_summary_and_exits_0(tmp_path: Path) -> None:
    org = OrganisationKeys.generate()
    (tmp_path / "config.toml").write_text(minimal_toml(text_forms(org)))
    certify_bot(tmp_path / "state", org.signing)  # made by `sanad admin certify-bot`
    result = sanad("check-config", cwd=tmp_path, env={"SANAD_TEST_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configuration is valid\n")
    assert f"SQLite file {tmp_path}/state/sanad.sqlite3" in result.stdout
    assert "found (environment variable SANAD_TEST_TOKEN)" in result.stdout
    assert "not created yet" in result.stdout
    rows = summary_rows(result.stdout)
    assert rows["database folder"] == f"writable: {tmp_path}/state"
    assert rows["state folder"] == f"writable: {tmp_path}/state"
    assert rows["bot certificate"].startswith("valid until ")
    assert rows["recovery wraps"] == "no database yet: nothing sealed to check against"
    assert TOKEN not in result.stdout + result.stderr
    assert result.stderr == ""


def test_postgres_summary_shows_no_password_and_missing_token_is_reported(
    tmp_path: Path, org_keys: tuple[str, str]
) -> None:
    text = minimal_toml(org_keys).replace(
        "sqlite+aiosqlite:///state/sanad.sqlite3",
        f"postgresql+asyncpg://sanad:{PASSWORD}@127.0.0.1:5432/test",
    )
    (tmp_path / "other.toml").write_text(text)
    env = {"SANAD_TEST_TOKEN": ""}
    result = sanad("check-config", "--config", "other.toml", cwd=tmp_path, env=env)
    assert result.returncode == 1  # no bot certificate, and PostgreSQL refuses user "sanad"
    assert "PostgreSQL database test on 127.0.0.1:5432" in result.stdout
    assert "NOT FOUND: the environment variable SANAD_TEST_TOKEN" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_bad_file_is_one_line_on_stderr_and_exit_1(
    tmp_path: Path, org_keys: tuple[str, str]
) -> None:
    text = minimal_toml(org_keys, telegram=f'token_env = "X"\ntoken = "{TOKEN}"')
    (tmp_path / "config.toml").write_text(text)
    result = sanad("check-config", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("sanad: config.toml: telegram.token: the bot token does not belong")
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr


def test_python_dash_m_bot_cli_works_like_the_script(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "--config", "absent.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "sanad: absent.toml: no such configuration file",
        "hint: copy config.example.toml to config.toml and edit it, or pass --config PATH",
    ]
