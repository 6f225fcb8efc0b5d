"""``sanad check-config`` checks the deployment around the file, as ``sanad run`` will meet it.

Before, it said "configuration is valid" for an unwritable database folder, a recovery key that
no longer matched the stored reports, a bot without a certificate and a token the Bot API
refuses. Each test here would have exited 0.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.bot_identity import BOT_DIRNAME, certify_bot
from bot.local_api.server import LocalBotApi
from bot.services import key_lifecycle as lifecycle
from crypto.keys import OrganisationKeys, X25519SecretKey
from storage.engine import open_database
from storage.migrate import upgrade_database
from tests.config.conftest import minimal_toml, text_forms
from tests.lifecycle_keys.conftest import TODAY, store_case
from tests.support.mounts import remount_read_only

TOKEN = "987654321:AAH-canaryTOKENvalue_9"


def check_config(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", *extra],
        cwd=folder,
        env={**os.environ, "SANAD_TEST_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def deploy(
    folder: Path, *, api_url: str = "https://api.telegram.org", tables: str = ""
) -> OrganisationKeys:
    org = OrganisationKeys.generate()
    text = minimal_toml(text_forms(org), tables=tables)
    (folder / "config.toml").write_text(text.replace("https://api.telegram.org", api_url))
    certify_bot(folder / "state", org.signing)
    return org


def test_unwritable_database_folder_fails_the_check(tmp_path: Path, tmpfs: Path) -> None:
    deploy(tmp_path)
    text = (tmp_path / "config.toml").read_text()
    (tmp_path / "config.toml").write_text(
        text.replace("///state/sanad.sqlite3", f"///{tmpfs}/sanad.sqlite3")
    )
    remount_read_only(tmpfs)
    result = check_config(tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("configuration file is valid; the deployment has 1 problem(s)")
    assert result.stderr == (
        f"sanad: the database folder {tmpfs} is not writable\n"
        "hint: make it a folder the user running sanad can write to, "
        "or point database.url at one\n"
    )


def test_missing_bot_certificate_fails_the_check_and_makes_no_key(
    tmp_path: Path, org_keys: tuple[str, str]
) -> None:
    (tmp_path / "config.toml").write_text(minimal_toml(org_keys))
    result = check_config(tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("sanad: the bot key has no certificate yet\n")
    assert not (tmp_path / "state" / BOT_DIRNAME).exists()  # check-config creates nothing


def test_recovery_key_left_behind_by_a_finished_rotation_says_paste_the_line(
    tmp_path: Path,
) -> None:
    org = deploy(tmp_path)

    async def rotate() -> None:
        db = open_database(f"sqlite:///{tmp_path / 'state' / 'sanad.sqlite3'}")
        try:
            await upgrade_database(db)
            await store_case(db, [org.recovery.public_key])
            await lifecycle.rotate_recovery(
                db,
                old_key=org.recovery,
                new_public=X25519SecretKey.generate().public_key,
                today=TODAY,
            )
        finally:
            await db.close()

    asyncio.run(rotate())
    result = check_config(tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "sanad: the recovery key was rotated, and the configuration still names the old one\n"
        "hint: paste the new recovery key line (recovery_public_key = ...) that "
        "`sanad admin rotate-recovery` printed into the [organisation] table, "
        "then start the bot again\n"
    )
    assert "unfinished" not in result.stdout + result.stderr


@pytest.mark.parametrize("known", [True, False], ids=["accepted", "refused"])
def test_online_asks_the_bot_api_for_get_me(tmp_path: Path, known: bool) -> None:
    with LocalBotApi.in_thread() as server:
        if known:
            server.call(lambda api: api.add_bot(TOKEN, username="org_reports_bot"))
        url = server.call(lambda api: api.url)
        deploy(tmp_path, api_url=url)
        offline = check_config(tmp_path)
        online = check_config(tmp_path, "--online")
    assert offline.returncode == 0, offline.stderr
    assert "getMe" not in offline.stdout  # not asked without --online
    if known:
        assert online.returncode == 0, online.stderr
        assert f"answers getMe at {url} as @org_reports_bot" in online.stdout
    else:
        assert online.returncode == 1
        assert online.stderr == (
            f"sanad: the Bot API at {url} refused the token from the environment variable "
            "SANAD_TEST_TOKEN\n"
            "hint: put there the token @BotFather gave you (revoked tokens are refused too), "
            "and check telegram.api_base_url\n"
        )
    assert TOKEN not in online.stdout + online.stderr
