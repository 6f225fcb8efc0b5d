"""``sanad admin caseworkers|approve|reassign|discard-enrolment`` as real subprocesses against
a real SQLite file.

The deployment is a config.toml the test writes; organisation key files are made through the
library with the lightest Argon2id settings (``kdf=MINIMUM``), passphrases come through
``SANAD_PASSPHRASE``. Rows and reports are prepared in-process through the same services the bot
uses, then the command runs in its own process as an admin would run it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from bot.bot_identity import certify_bot, load_bot_identity
from bot.cli.admin import admin_app
from bot.revocation_mark import read_mark
from bot.services import caseworkers as service
from crypto import EnvelopeKind, Wrap, issue_revocation_list, open_report
from crypto.certificates import today_utc
from crypto.keyfile import MINIMUM, save_org_recovery_key, save_org_signing_key
from crypto.keys import ORG_SIGNING_PREFIX, CaseworkerKeys, Ed25519SigningKey, OrganisationKeys
from storage import outbox
from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from storage.models import (
    AuditEntry,
    Caseworker,
    CaseworkerStatus,
    DeliveryStatus,
    OutboxEntry,
    RevocationList,
)
from storage.outbox import RetryPolicy
from storage.repositories import ReportRepository
from tests.config.conftest import minimal_toml

from .conftest import (
    approve_enrolment,
    certificate_for,
    code_of,
    enrolled,
    insert_by_hand,
    new_chat_id,
    set_certificate,
)
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
    bot_key: Ed25519SigningKey

    async def enrol(
        self, label: str, *, chat_id: int | None = None, keys: CaseworkerKeys | None = None
    ) -> tuple[service.Enrolment, CaseworkerKeys]:
        """``/enroll`` to this deployment's bot, whose key signs the claim, today: the CLI
        approves on the real date, and a confirmation code is good for two weeks."""
        return await enrolled(
            self.db, label, chat_id=chat_id, keys=keys, bot_key=self.bot_key, today=today_utc()
        )

    async def approve(self, enrolment: service.Enrolment) -> service.Approval:
        """What ``sanad admin approve --confirm`` does, in-process."""
        return await approve_enrolment(
            self.db, self.org, enrolment, today=today_utc(), bot_key=self.bot_key
        )

    def sanad(
        self, *args: str, passphrase: str = PASSPHRASE, columns: int = 200
    ) -> subprocess.CompletedProcess[str]:
        script = shutil.which("sanad", path=str(Path(sys.executable).parent))
        command = [script] if script else [sys.executable, "-m", "bot.cli"]
        return subprocess.run(
            [*command, *args, "--config", str(self.config)],
            cwd=self.folder,
            env={**os.environ, "SANAD_PASSPHRASE": passphrase, "COLUMNS": str(columns)},
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
    certify_bot(tmp_path / "state", org.signing)
    bot_key = load_bot_identity(tmp_path / "state", org.signing.public_key).key
    try:
        yield Deployment(tmp_path, config, org, signing_key, recovery_key, db, bot_key)
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
    good, good_keys = await deployment.enrol("Good")
    await deployment.approve(good)
    await deployment.enrol("Pending")
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
    revoked, _ = await deployment.enrol("Revoked")
    await deployment.approve(revoked)
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
    deployment: Deployment, utc_day: dt.date
) -> None:
    enrolment, keys = await deployment.enrol("Salma")

    result = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key), "--days", "10",
        "--confirm", enrolment.confirmation_code,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert f"Fingerprint: {enrolment.fingerprint}" in result.stdout
    async with deployment.db.sessionmaker() as session:
        [recipient] = await service.eligible_caseworkers(
            session,
            deployment.org.signing.public_key,
            today_utc(),
            min_serial=read_mark(deployment.folder / "state"),
        )
    assert recipient.caseworker_id == enrolment.caseworker_id
    assert recipient.keys == keys.public
    assert recipient.certificate.expires == utc_day + dt.timedelta(days=10)
    async with deployment.db.sessionmaker() as session:
        [audit] = (await session.scalars(select(AuditEntry))).all()
    assert audit.event == "caseworker.approved"
    assert audit.actor_key_id == deployment.org.signing.public_key.key_id


async def test_approve_refuses_a_signing_key_that_is_not_pinned(
    deployment: Deployment, tmp_path: Path
) -> None:
    enrolment, _ = await deployment.enrol("Salma")
    foreign = tmp_path / "foreign-signing.key"
    save_org_signing_key(foreign, OrganisationKeys.generate().signing, "x", PASSPHRASE, kdf=MINIMUM)

    result = deployment.sanad(
        "admin", "approve", str(enrolment.caseworker_id), "--org-key", str(foreign),
        "--confirm", code_of(enrolment),
    )  # fmt: skip

    _one_line_failure(result, "not the organisation signing key pinned in the configuration")
    async with deployment.db.sessionmaker() as session:
        row = await session.get(Caseworker, enrolment.caseworker_id)
    assert row is not None
    assert row.status is CaseworkerStatus.PENDING
    assert row.certificate is None


async def test_approve_with_a_wrong_passphrase_is_one_line(deployment: Deployment) -> None:
    enrolment, _ = await deployment.enrol("Salma")
    result = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key),
        "--confirm", code_of(enrolment), passphrase="wrong",
    )  # fmt: skip
    _one_line_failure(result, "wrong passphrase")


async def test_approve_an_unknown_caseworker_is_one_line(deployment: Deployment) -> None:
    result = deployment.sanad(
        "admin", "approve", "Nobody", "--org-key", str(deployment.signing_key),
        "--confirm", "1234 5678",
    )  # fmt: skip
    _one_line_failure(result, "no caseworker has the id or label")


async def test_reassign_makes_a_recovery_only_report_readable_by_the_new_caseworker(
    deployment: Deployment,
) -> None:
    db, org = deployment.db, deployment.org
    stored = await store_sealed_report(db, b"canary report body", [org.recovery.public_key])
    enrolment, keys = await deployment.enrol("Salma")
    await deployment.approve(enrolment)

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
    await deployment.enrol("Pending")
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


@pytest.mark.parametrize(
    "command", ["caseworkers", "approve", "reassign", "discard-enrolment", "redeliver"]
)
def test_admin_command_has_help_with_config_option(command: str) -> None:
    result = CliRunner().invoke(admin_app, [command, "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output


async def test_approve_without_a_confirmation_code_refuses_before_the_passphrase(
    deployment: Deployment,
) -> None:
    await deployment.enrol("Salma")
    result = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key), passphrase="wrong"
    )
    _one_line_failure(result, "needs the confirmation code")
    assert "--confirm" in result.stderr


async def test_approve_with_a_wrong_code_refuses_and_leaves_the_caseworker_pending(
    deployment: Deployment,
) -> None:
    enrolment, _ = await deployment.enrol("Salma")
    wrong = f"{(int(code_of(enrolment)) + 1) % 10**8:08d}"
    result = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key), "--confirm", wrong
    )
    _one_line_failure(result, "confirms no /enroll of this caseworker")
    async with deployment.db.sessionmaker() as session:
        row = await session.get(Caseworker, enrolment.caseworker_id)
    assert row is not None
    assert (row.status, row.certificate) == (CaseworkerStatus.PENDING, None)


async def test_two_chats_claiming_one_key_show_in_caseworkers_and_only_the_confirmed_is_bound(
    deployment: Deployment,
) -> None:
    keys = CaseworkerKeys.generate()
    stranger_chat, caseworker_chat = new_chat_id(), new_chat_id()
    # The code pasted into a stranger's chat first, then sent by the caseworker.
    await deployment.enrol("Salma", keys=keys, chat_id=stranger_chat)
    real, _ = await deployment.enrol("Salma", keys=keys, chat_id=caseworker_chat)

    listed = deployment.sanad("admin", "caseworkers", "--plain")
    assert listed.returncode == 0, listed.stderr
    assert _plain_rows(listed.stdout)["Salma"]["claims"] == "2"
    narrow = deployment.sanad("admin", "caseworkers", columns=80)
    assert narrow.returncode == 0, narrow.stderr
    assert "  status       pending\n" in narrow.stdout
    assert "  claims       2 chats!\n" in narrow.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80

    approved = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key),
        "--confirm", real.confirmation_code,
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    assert "1 other chat(s) also sent this key" in approved.stdout
    async with deployment.db.sessionmaker() as session:
        row = await session.get(Caseworker, real.caseworker_id)
        [recipient] = await service.eligible_caseworkers(
            session,
            deployment.org.signing.public_key,
            today_utc(),
            min_serial=read_mark(deployment.folder / "state"),
        )
    assert row is not None
    assert recipient.delivery_chat_id == row.delivery_chat_id == caseworker_chat
    listed = deployment.sanad("admin", "caseworkers", "--plain")
    assert _plain_rows(listed.stdout)["Salma"]["claims"] == "0"  # a code confirms once


async def _rows(deployment: Deployment) -> dict[str, CaseworkerStatus]:
    async with deployment.db.sessionmaker() as session:
        return {r.label: r.status for r in await session.scalars(select(Caseworker))}


async def test_discard_enrolment_by_label_answers_in_one_line_and_audits_counts_only(
    deployment: Deployment,
) -> None:
    keys = CaseworkerKeys.generate()
    await deployment.enrol("Fake Nour", keys=keys)
    await deployment.enrol("Fake Nour", keys=keys)
    await deployment.enrol("Salma")

    result = deployment.sanad("admin", "discard-enrolment", "Fake Nour")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "discarded 1 pending caseworker(s) and 2 enrolment claim(s); "
        f"enrolments waiting for approval: 1 of {service.MAX_PENDING_ENROLMENTS}"
    ]
    assert await _rows(deployment) == {"Salma": CaseworkerStatus.PENDING}
    async with deployment.db.sessionmaker() as session:
        [entry] = (await session.scalars(select(AuditEntry))).all()
    assert entry.event == "caseworker.enrolments_discarded"
    assert entry.counts == {"enrolment_claims": 2, "pending_caseworkers": 1}
    assert entry.actor_key_id is None
    assert entry.signature is not None  # sealed by the bot key, as on the server
    verified = deployment.sanad("admin", "audit", "--verify")
    assert verified.returncode == 0, verified.stderr


async def test_discard_enrolment_refuses_an_unknown_or_not_pending_caseworker(
    deployment: Deployment,
) -> None:
    await deployment.approve((await deployment.enrol("Amal"))[0])
    await deployment.enrol("Salma")

    unknown = deployment.sanad("admin", "discard-enrolment", "Nobody")
    verified = deployment.sanad("admin", "discard-enrolment", "Amal")
    both = deployment.sanad("admin", "discard-enrolment", "Salma", "--all")
    neither = deployment.sanad("admin", "discard-enrolment")

    _one_line_failure(unknown, "no caseworker has the id or label")
    _one_line_failure(verified, "not an enrolment waiting for approval")
    _one_line_failure(both, "name one caseworker, or pass --all")
    _one_line_failure(neither, "name one caseworker, or pass --all")
    assert await _rows(deployment) == {
        "Amal": CaseworkerStatus.VERIFIED,
        "Salma": CaseworkerStatus.PENDING,
    }
    async with deployment.db.sessionmaker() as session:
        events = [e.event for e in await session.scalars(select(AuditEntry))]
    assert events == ["caseworker.approved"]


async def test_discard_enrolment_all_frees_the_places_a_flood_took(
    deployment: Deployment,
) -> None:
    amal, _ = await deployment.enrol("Amal")
    await deployment.approve(amal)
    flood = 0
    while flood < service.MAX_PENDING_ENROLMENTS:
        chat_id = new_chat_id()
        for _ in range(min(service.MAX_CLAIMS_PER_CHAT, service.MAX_PENDING_ENROLMENTS - flood)):
            await deployment.enrol(f"Fake {flood}", chat_id=chat_id)
            flood += 1
    with pytest.raises(service.EnrolmentCapped):
        await deployment.enrol("Salma")
    full = deployment.sanad("admin", "status")
    assert f"enrolments waiting for approval: {flood} of {flood}  <- full" in full.stdout

    result = deployment.sanad("admin", "discard-enrolment", "--all", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "pending_caseworkers": flood,
        "enrolment_claims": flood,
        "enrolments": {"waiting": 0, "limit": service.MAX_PENDING_ENROLMENTS},
    }
    assert await _rows(deployment) == {"Amal": CaseworkerStatus.VERIFIED}
    salma, _ = await deployment.enrol("Salma")
    approved = deployment.sanad(
        "admin", "approve", "Salma", "--org-key", str(deployment.signing_key),
        "--confirm", salma.confirmation_code,
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    async with deployment.db.sessionmaker() as session:
        recipients = await service.eligible_caseworkers(
            session,
            deployment.org.signing.public_key,
            today_utc(),
            min_serial=read_mark(deployment.folder / "state"),
        )
    assert [r.label for r in recipients] == ["Amal", "Salma"]


async def _failed_delivery_to(deployment: Deployment, label: str, error_class: str) -> str:
    """An approved caseworker ``label`` with one report whose delivery the forward job gave up
    with ``error_class``; the case reference."""
    enrolment, keys = await deployment.enrol(label)
    approval = await deployment.approve(enrolment)
    stored = await store_sealed_report(
        deployment.db,
        b"canary report body",
        [keys.public.encryption, deployment.org.recovery.public_key],
        caseworker_id=approval.caseworker_id,
    )
    now = dt.datetime.now(dt.UTC)
    [delivery] = await outbox.claim_batch(
        deployment.db, worker="run", now=now, limit=10, lease=dt.timedelta(minutes=10)
    )
    await outbox.release(
        deployment.db,
        delivery.id,
        worker="run",
        now=now,
        error_class=error_class,
        policy=RetryPolicy(max_attempts=1),
    )
    return stored.case_reference


async def _deliveries(deployment: Deployment) -> list[tuple[DeliveryStatus, str | None]]:
    async with deployment.db.sessionmaker() as session:
        rows = await session.scalars(select(OutboxEntry))
        return sorted((row.status, row.last_error) for row in rows)


async def test_redeliver_requeues_failed_deliveries_in_one_line_and_audits_counts_only(
    deployment: Deployment,
) -> None:
    case = await _failed_delivery_to(deployment, "Salma", "Forbidden")
    await _failed_delivery_to(deployment, "Amal", "UploadTooLarge")
    await _failed_delivery_to(deployment, "Nour", "UploadTooLarge")
    async with deployment.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Caseworker)
            .where(Caseworker.label == "Nour")
            .values(status=CaseworkerStatus.REVOKED)
        )

    one_class = deployment.sanad("admin", "redeliver", "--all", "--reason", "UploadTooLarge")

    assert one_class.returncode == 0, one_class.stderr
    assert one_class.stdout.splitlines() == [
        "requeued 1 failed delivery(ies) for the next forward run; left failed: 1 whose "
        "caseworker may not receive them (`sanad admin caseworkers` says why; move those cases "
        "with `sanad admin reassign`)"
    ]
    assert await _deliveries(deployment) == [
        (DeliveryStatus.FAILED, "Forbidden"),
        (DeliveryStatus.FAILED, "UploadTooLarge"),
        (DeliveryStatus.PENDING, None),
    ]
    one_case = deployment.sanad("admin", "redeliver", case, "--json")
    assert one_case.returncode == 0, one_case.stderr
    assert json.loads(one_case.stdout) == {
        "requeued": 1,
        "not_eligible": 0,
        "already_delivered": 0,
    }
    async with deployment.db.sessionmaker() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    requeues = [e for e in entries if e.event == "delivery.requeued"]
    assert [e.counts for e in requeues] == [
        {"requeued": 1, "not_eligible": 1, "already_delivered": 0},
        {"requeued": 1, "not_eligible": 0, "already_delivered": 0},
    ]
    assert all(e.actor_key_id is None and e.signature is not None for e in requeues)
    assert case not in one_class.stdout + one_case.stdout


async def test_redeliver_refuses_an_unknown_case_or_a_missing_choice(
    deployment: Deployment,
) -> None:
    case = await _failed_delivery_to(deployment, "Salma", "Forbidden")

    unknown = deployment.sanad("admin", "redeliver", "ZZZ-ZZZZ")
    both = deployment.sanad("admin", "redeliver", case, "--all")
    neither = deployment.sanad("admin", "redeliver", "--reason", "Forbidden")

    _one_line_failure(unknown, "no case has this reference")
    _one_line_failure(both, "name one case, or pass --all")
    _one_line_failure(neither, "name one case, or pass --all")
    assert await _deliveries(deployment) == [(DeliveryStatus.FAILED, "Forbidden")]
