"""``sanad admin caseworkers|approve|reassign`` as real subprocesses against a real SQLite file.

The deployment is a config.toml the test writes; organisation key files are made through the
library with the lightest Argon2id settings (``kdf=MINIMUM``), passphrases come through
``SANAD_PASSPHRASE``. Rows and reports are prepared in-process through the same services the bot
uses, then the command runs in its own process as an admin would run it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli.admin import admin_app
from bot.services import caseworkers as service
from crypto import EnvelopeKind, Wrap, issue_revocation_list, open_report
from crypto.certificates import today_utc
from crypto.keyfile import MINIMUM, save_org_recovery_key, save_org_signing_key
from crypto.keys import ORG_SIGNING_PREFIX, OrganisationKeys
from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from storage.models import AuditEntry, Caseworker, CaseworkerStatus, OutboxEntry, RevocationList
from storage.repositories import ReportRepository
from tests.config.conftest import minimal_toml

from .conftest import certificate_for, enrolled, insert_by_hand, set_certificate
from .test_reassign import store_sealed_report

PASSPHRASE = "correct horse battery staple"


@dataclass
class Deployment:
    folder: Path
    config: Path
    org: OrganisationKeys
    signing_key: Path
    recovery_key: Path
    db: Database

    def sanad(self, *args: str, passphrase: str = PASSPHRASE) -> subprocess.CompletedProcess[str]:
        script = shutil.which("sanad", path=str(Path(sys.executable).parent))
        command = [script] if script else [sys.executable, "-m", "bot.cli"]
        return subprocess.run(
            [*command, *args, "--config", str(self.config)],
            cwd=self.folder,
            env={**os.environ, "SANAD_PASSPHRASE": passphrase, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    org = OrganisationKeys.generate()
    signing_key, recovery_key = tmp_path / "org-signing.key", tmp_path / "org-recovery.key"
    save_org_signing_key(signing_key, org.signing, "organisation", PASSPHRASE, kdf=MINIMUM)
    save_org_recovery_key(recovery_key, org.recovery, "organisation", PASSPHRASE, kdf=MINIMUM)
    config = tmp_path / "config.toml"
    config.write_text(
        minimal_toml(
            (
                org.signing.public_key.to_text(ORG_SIGNING_PREFIX),
                org.recovery.public_key.to_text(),
            )
        )
    )
    # minimal_toml's database is state/sanad.sqlite3, relative to the configuration file.
    db = open_database(f"sqlite:///{tmp_path / 'state' / 'sanad.sqlite3'}")
    await upgrade_database(db)
    try:
        yield Deployment(tmp_path, config, org, signing_key, recovery_key, db)
    finally:
        await db.close()


def test_caseworkers_on_a_database_never_migrated_is_one_line(tmp_path: Path) -> None:
    org = OrganisationKeys.generate()
    config = tmp_path / "config.toml"
    config.write_text(
        minimal_toml(
            (org.signing.public_key.to_text(ORG_SIGNING_PREFIX), org.recovery.public_key.to_text())
        )
    )
    script = shutil.which("sanad", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run(
        [script, "admin", "caseworkers", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    _one_line_failure(result, "the database could not be read")


def _plain_rows(stdout: str) -> dict[str, dict[str, str]]:
    header, *lines = stdout.splitlines()
    columns = header.split("\t")
    rows = [dict(zip(columns, line.split("\t"), strict=True)) for line in lines]
    return {row["label"]: row for row in rows}


def _one_line_failure(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("sanad: ")
    assert fragment in lines[0]
    assert all(line.startswith(("sanad: ", "hint: ")) for line in lines)
    assert "Traceback" not in result.stderr


async def test_caseworkers_lists_each_with_whether_and_why_the_bot_seals(
    deployment: Deployment,
) -> None:
    db, org = deployment.db, deployment.org
    today = today_utc()
    good, good_keys = await enrolled(db, "Good")
    await service.approve(
        db, who="Good", signing_key=org.signing, org_public=org.signing.public_key, today=today
    )
    await enrolled(db, "Pending")
    await insert_by_hand(db, "Unsigned", status=CaseworkerStatus.VERIFIED)
    foreign_id, foreign_keys = await insert_by_hand(db, "Foreign")
    stranger = OrganisationKeys.generate()
    await set_certificate(
        db, foreign_id, certificate_for(foreign_id, "Foreign", foreign_keys, stranger)
    )
    expired_id, expired_keys = await insert_by_hand(db, "Expired")
    await set_certificate(
        db,
        expired_id,
        certificate_for(
            expired_id, "Expired", expired_keys, org, not_before=today - dt.timedelta(days=40)
        ),
    )
    revoked, _ = await enrolled(db, "Revoked")
    await service.approve(
        db, who="Revoked", signing_key=org.signing, org_public=org.signing.public_key, today=today
    )
    async with db.sessionmaker() as session, session.begin():
        session.add(
            RevocationList(
                serial=1,
                signed=issue_revocation_list(
                    org.signing, serial=1, caseworker_ids=[str(revoked.caseworker_id)]
                ),
            )
        )

    result = deployment.sanad("admin", "caseworkers", "--plain")

    assert result.returncode == 0, result.stderr
    rows = _plain_rows(result.stdout)
    assert rows["Good"]["seals"] == "yes"
    assert rows["Good"]["status"] == "verified"
    assert rows["Good"]["fingerprint"] == good.fingerprint
    assert rows["Good"]["id"] == str(good.caseworker_id)
    reasons = {label: row["reason"] for label, row in rows.items() if row["seals"] == "no"}
    assert reasons == {
        "Pending": "no certificate",
        "Unsigned": "no certificate",
        "Foreign": "signed by another key, not the pinned one",
        "Expired": "certificate expired",
        "Revoked": "revoked by the revocation list",
    }
    table = deployment.sanad("admin", "caseworkers")
    assert table.returncode == 0, table.stderr
    assert good.fingerprint in table.stdout
    assert "signed by another key" in table.stdout
    assert good_keys.public.encryption.raw.hex() not in table.stdout


async def test_approve_by_label_signs_with_the_pinned_key_and_makes_a_recipient(
    deployment: Deployment,
) -> None:
    enrolment, keys = await enrolled(deployment.db, "Salma")

    result = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key), "--days", "10"
    )

    assert result.returncode == 0, result.stderr
    assert f"Fingerprint: {enrolment.fingerprint}" in result.stdout
    async with deployment.db.sessionmaker() as session:
        [recipient] = await service.eligible_caseworkers(
            session, deployment.org.signing.public_key, today_utc()
        )
    assert recipient.caseworker_id == enrolment.caseworker_id
    assert recipient.keys == keys.public
    assert recipient.certificate.expires == today_utc() + dt.timedelta(days=10)
    async with deployment.db.sessionmaker() as session:
        [audit] = (await session.scalars(select(AuditEntry))).all()
    assert audit.event == "caseworker.approved"
    assert audit.actor_key_id == deployment.org.signing.public_key.key_id


async def test_approve_refuses_a_signing_key_that_is_not_pinned(
    deployment: Deployment, tmp_path: Path
) -> None:
    enrolment, _ = await enrolled(deployment.db, "Salma")
    foreign = tmp_path / "foreign-signing.key"
    save_org_signing_key(foreign, OrganisationKeys.generate().signing, "x", PASSPHRASE, kdf=MINIMUM)

    result = deployment.sanad(
        "admin", "approve", str(enrolment.caseworker_id), "--org-key", str(foreign)
    )

    _one_line_failure(result, "not the organisation signing key pinned in the configuration")
    async with deployment.db.sessionmaker() as session:
        row = await session.get(Caseworker, enrolment.caseworker_id)
    assert row is not None
    assert row.status is CaseworkerStatus.PENDING
    assert row.certificate is None


async def test_approve_with_a_wrong_passphrase_is_one_line(deployment: Deployment) -> None:
    await enrolled(deployment.db, "Salma")
    result = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key), passphrase="wrong"
    )
    _one_line_failure(result, "wrong passphrase")


async def test_approve_an_unknown_caseworker_is_one_line(deployment: Deployment) -> None:
    result = deployment.sanad(
        "admin", "approve", "Nobody", "--org-key", str(deployment.signing_key)
    )
    _one_line_failure(result, "no caseworker has the id or label")


async def test_reassign_makes_a_recovery_only_report_readable_by_the_new_caseworker(
    deployment: Deployment,
) -> None:
    db, org = deployment.db, deployment.org
    stored = await store_sealed_report(db, b"canary report body", [org.recovery.public_key])
    _enrolment, keys = await enrolled(db, "Salma")
    await service.approve(
        db,
        who="Salma",
        signing_key=org.signing,
        org_public=org.signing.public_key,
        today=today_utc(),
    )

    result = deployment.sanad(
        "admin",
        "reassign",
        stored.case_reference,
        "--to",
        "Salma",
        "--recovery-key",
        str(deployment.recovery_key),
    )

    assert result.returncode == 0, result.stderr
    assert stored.case_reference in result.stdout
    async with db.sessionmaker() as session:
        repository = ReportRepository(session)
        body = await repository.get_body(stored.report_id, 0)
        wrap = await repository.get_wrap(stored.report_id, 0, keys.public.encryption.key_id)
        deliveries = list(await session.scalars(OutboxEntry.__table__.select()))
    assert body is not None
    assert wrap is not None
    opened = open_report(
        body.body_sealed,
        Wrap(wrap.recipient_key_id, wrap.wrap),
        report_id=stored.report_id,
        sequence=0,
        kind=EnvelopeKind.REPORT,
        secret_key=keys.encryption,
    )
    assert opened == b"canary report body"
    assert len(deliveries) == 1


async def test_reassign_to_a_caseworker_the_bot_will_not_seal_to_says_why(
    deployment: Deployment,
) -> None:
    db, org = deployment.db, deployment.org
    stored = await store_sealed_report(db, b"report", [org.recovery.public_key])
    await enrolled(db, "Pending")
    result = deployment.sanad(
        "admin",
        "reassign",
        stored.case_reference,
        "--to",
        "Pending",
        "--recovery-key",
        str(deployment.recovery_key),
    )
    _one_line_failure(result, "no certificate")


@pytest.mark.parametrize("command", ["caseworkers", "approve", "reassign"])
def test_admin_command_has_help_with_config_option(command: str) -> None:
    result = CliRunner().invoke(admin_app, [command, "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output
