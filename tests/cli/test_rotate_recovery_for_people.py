"""``sanad admin rotate-recovery`` for the person running it: two key files, each named.

A wrong passphrase names the file it did not open (before, "wrong passphrase or damaged key
file" left the admin guessing which of the two); a finished rotation prints the one step left,
and ``check-config`` then asks for exactly that step rather than calling the rotation unfinished.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.bot_identity import certify_bot
from crypto.keyfile import MINIMUM, save_org_recovery_key
from crypto.keys import OrganisationKeys, X25519SecretKey
from storage.engine import open_database
from storage.migrate import upgrade_database
from tests.delivery.conftest import TOKEN_ENV, config_text
from tests.lifecycle_keys.conftest import store_case

pytestmark = pytest.mark.slow

OLD_PASSPHRASE = "the old recovery passphrase"
NEW_PASSPHRASE = "the new recovery passphrase"


def sanad(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SANAD_PASSPHRASE"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**env, TOKEN_ENV: "123456:" + "A" * 35},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def test_wrong_passphrase_names_the_file_and_a_finished_rotation_names_the_last_step(
    tmp_path: Path,
) -> None:
    org = OrganisationKeys.generate()
    database = tmp_path / "sanad.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(
            api_url="http://127.0.0.1:9",
            database_url=f"sqlite+aiosqlite:///{database}",
            org=org,
            state_dir=tmp_path / "state",
            delivery={"batch_interval_seconds": 600.0, "jitter_seconds": 0.0},
        )
    )
    certify_bot(tmp_path / "state", org.signing)
    old_key, new_key = tmp_path / "org-recovery.key", tmp_path / "new" / "org-recovery.key"
    new_key.parent.mkdir()
    save_org_recovery_key(old_key, org.recovery, "organisation", OLD_PASSPHRASE, kdf=MINIMUM)
    new = X25519SecretKey.generate()
    save_org_recovery_key(new_key, new, "organisation", NEW_PASSPHRASE, kdf=MINIMUM)
    old_file, new_file = tmp_path / "old.pass", tmp_path / "new.pass"
    old_file.write_text(OLD_PASSPHRASE)
    new_file.write_text(NEW_PASSPHRASE)

    async def one_case() -> None:
        db = open_database(f"sqlite:///{database}")
        try:
            await upgrade_database(db)
            await store_case(db, [org.recovery.public_key])
        finally:
            await db.close()

    asyncio.run(one_case())
    rotate = (
        "admin", "rotate-recovery", "--old-key", old_key, "--new-key", new_key,
        "--config", config, "--passphrase-file", old_file,
    )  # fmt: skip

    wrong = sanad(*rotate)  # the old key file's passphrase does not open the new one
    assert wrong.returncode == 1
    assert wrong.stderr == (
        f"sanad: wrong passphrase for {new_key}, or the file is damaged\n"
        "hint: run the command again; each key file's passphrase is asked for by name\n"
    )

    done = sanad(*rotate, "--new-passphrase-file", new_file)
    assert done.returncode == 0, done.stderr
    *_, step, line = done.stdout.splitlines()
    assert step.startswith("One step left: paste this line into the [organisation] table")
    assert line == f'recovery_public_key = "{new.public_key.to_text()}"'

    before = sanad("check-config", "--config", config)
    assert before.returncode == 1
    assert "paste the new recovery key line" in before.stderr
    config.write_text(
        config.read_text().replace(org.recovery.public_key.to_text(), new.public_key.to_text())
    )
    after = sanad("check-config", "--config", config)
    assert after.returncode == 0, after.stderr
    assert "matches every stored report part" in after.stdout
