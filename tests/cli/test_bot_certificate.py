"""``sanad admin certify-bot`` and ``sanad run`` without a valid bot certificate (I9).

The commands run as processes against a real SQLite deployment; the organisation signing key
file is written with libsodium's minimum Argon2id cost so the tests do not spend a minute in
key derivation (the command reads whatever settings the file names).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.bot_identity import RENEWAL_WARNING_DAYS, certify_bot, load_bot_identity
from bot.config import load_config
from bot.runtime import Runtime
from crypto.keyfile import MINIMUM, save_org_signing_key
from crypto.keys import OrganisationKeys
from storage.engine import open_database
from storage.migrate import upgrade_database
from storage.models import AuditEntry

from ..delivery.conftest import TOKEN_ENV, config_text

pytestmark = pytest.mark.slow

SANAD = Path(sys.executable).with_name("sanad")
PASSPHRASE = "a long enough test passphrase"
# A token of the right shape; `sanad run` stops before it would ever be used.
TOKEN = "123456:" + "A" * 35


@dataclass(frozen=True)
class Deployment:
    """A configuration, its migrated database and the organisation key file an admin brings."""

    organisation: OrganisationKeys
    config: Path
    state_dir: Path
    database: Path
    org_key: Path


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    organisation = OrganisationKeys.generate()
    state_dir, database = tmp_path / "state", tmp_path / "sanad.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(
            api_url="http://127.0.0.1:9",
            database_url=f"sqlite+aiosqlite:///{database}",
            org=organisation,
            state_dir=state_dir,
            delivery={"batch_interval_seconds": 600.0, "jitter_seconds": 0.0},
        )
    )
    org_key = tmp_path / "org-signing.key"
    save_org_signing_key(org_key, organisation.signing, "organisation", PASSPHRASE, kdf=MINIMUM)

    async def migrate() -> None:
        db = open_database(f"sqlite:///{database}")
        try:
            await upgrade_database(db)
        finally:
            await db.close()

    asyncio.run(migrate())
    return Deployment(organisation, config, state_dir, database, org_key)


def sanad(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SANAD), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "SANAD_PASSPHRASE": PASSPHRASE, TOKEN_ENV: TOKEN},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def audit_events(database: Path) -> list[str]:
    async def read() -> list[str]:
        db = open_database(f"sqlite:///{database}")
        try:
            async with db.sessionmaker() as session:
                return list((await session.scalars(select(AuditEntry.event))).all())
        finally:
            await db.close()

    return asyncio.run(read())


def certify(deployment: Deployment, *extra: str) -> subprocess.CompletedProcess[str]:
    return sanad(
        "admin", "certify-bot", "--org-key", deployment.org_key, "--config", deployment.config,
        *extra,
    )  # fmt: skip


def test_certify_bot_lets_the_bot_key_sign_for_the_pinned_organisation(
    deployment: Deployment, utc_day: dt.date
) -> None:
    result = certify(deployment, "--days", "30")
    assert result.returncode == 0, result.stderr
    identity = load_bot_identity(deployment.state_dir, deployment.organisation.signing.public_key)
    assert identity.verified.serial == 1
    assert identity.verified.expires == utc_day + dt.timedelta(days=30)
    assert f"serial 1, expires on {identity.verified.expires.isoformat()}" in result.stdout
    assert identity.public_key.key_id.hex()[:16] in result.stdout
    assert audit_events(deployment.database) == ["bot.certified"]

    renewed = certify(deployment)
    assert renewed.returncode == 0, renewed.stderr
    again = load_bot_identity(deployment.state_dir, deployment.organisation.signing.public_key)
    assert (again.verified.serial, again.public_key) == (2, identity.public_key)
    assert again.verified.expires == utc_day + dt.timedelta(days=90)


def test_certify_bot_refuses_another_organisations_key_before_its_passphrase(
    deployment: Deployment, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign.key"
    save_org_signing_key(
        foreign, OrganisationKeys.generate().signing, "other", "not the passphrase", kdf=MINIMUM
    )
    result = sanad(
        "admin", "certify-bot", "--org-key", foreign, "--config", deployment.config,
    )  # fmt: skip
    assert result.returncode == 1
    [line, hint] = result.stderr.splitlines()
    assert (
        line == f"sanad: {foreign} is not the organisation signing key pinned in the configuration"
    )
    assert hint.startswith("hint: ")
    assert not (deployment.state_dir / "bot" / "certificate").exists()
    assert audit_events(deployment.database) == []


def assert_run_refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    """One line naming what is wrong and a hint naming the command that fixes it."""
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"sanad: {message}",
        "hint: run: sanad admin certify-bot --org-key FILE (on the server, with the admin's key)",
    ]


def test_run_refuses_to_start_without_a_bot_certificate(deployment: Deployment) -> None:
    result = sanad("run", "--config", deployment.config)
    assert_run_refused(result, "the bot key has no certificate yet")


def test_run_refuses_to_start_with_an_expired_bot_certificate(
    deployment: Deployment, utc_day: dt.date
) -> None:
    certify_bot(
        deployment.state_dir,
        deployment.organisation.signing,
        days=30,
        today=utc_day - dt.timedelta(days=40),
    )
    result = sanad("run", "--config", deployment.config)
    assert_run_refused(result, "the bot certificate has expired")


def test_run_refuses_a_certificate_from_another_organisation(deployment: Deployment) -> None:
    certify_bot(deployment.state_dir, OrganisationKeys.generate().signing)
    result = sanad("run", "--config", deployment.config)
    assert_run_refused(
        result, "the bot certificate was not signed by the organisation key in the configuration"
    )


@pytest.mark.parametrize(
    ("days_left", "warned"), [(RENEWAL_WARNING_DAYS - 9, True), (RENEWAL_WARNING_DAYS + 1, False)]
)
async def test_runtime_logs_renewal_due_with_only_the_days_left(
    deployment: Deployment,
    caplog: pytest.LogCaptureFixture,
    utc_day: dt.date,
    days_left: int,
    warned: bool,
) -> None:
    certify_bot(
        deployment.state_dir,
        deployment.organisation.signing,
        days=30,
        today=utc_day - dt.timedelta(days=30 - days_left),
    )
    with caplog.at_level(logging.INFO):
        runtime = Runtime.open(load_config(deployment.config))
    await runtime.close()
    due = [r for r in caplog.records if r.getMessage() == "bot.certificate_renewal_due"]
    if warned:
        [record] = due
        assert record.levelno == logging.WARNING
        assert record.__dict__["sanad_counts"] == {"days_left": days_left}
    else:
        assert due == []
