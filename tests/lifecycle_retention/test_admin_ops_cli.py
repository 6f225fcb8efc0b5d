"""``sanad admin status`` and ``sanad admin audit [--verify]``: counts and days, never identifiers.

The commands run as real subprocesses against a real SQLite file, prepared in-process through the
services the bot uses, with the bot's audit seal installed as ``sanad run`` installs it;
:func:`gather_status` itself runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from bot.audit_head import BotAuditSeal, install_audit_seal
from bot.bot_identity import certify_bot, load_or_create_bot_key
from bot.config import Config, load_config
from bot.services.caseworkers import MAX_PENDING_ENROLMENTS
from bot.services.housekeeping import Housekeeping, HousekeepingKeyring
from bot.services.status import gather_status
from crypto.keys import ORG_SIGNING_PREFIX, OrganisationKeys
from storage import audit
from storage.engine import Database, open_database
from storage.migrate import upgrade_database
from storage.models import (
    AuditEntry,
    CaseworkerStatus,
    DeliveryStatus,
    Direction,
    Mailbox,
    MailboxMessage,
    OutboxEntry,
    Report,
    ReportStatus,
)
from tests.caseworkers.conftest import approved, enrolled, insert_by_hand
from tests.config.conftest import minimal_toml
from tests.storage.helpers import store_opaque_report

BOT_CERTIFICATE_DAYS = 10  # inside bot.bot_identity.RENEWAL_WARNING_DAYS: renewal is due
CERTIFY_BOT = "`sanad admin certify-bot --org-key FILE`"


@dataclass
class Deployment:
    folder: Path
    config_path: Path
    config: Config
    org: OrganisationKeys
    db: Database
    seal: BotAuditSeal

    def sanad(self, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
        script = shutil.which("sanad", path=str(Path(sys.executable).parent))
        command = [script] if script else [sys.executable, "-m", "bot.cli"]
        return subprocess.run(
            [*command, *args, "--config", str(self.config_path)],
            cwd=self.folder,
            env={**os.environ, "COLUMNS": str(columns)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def write_config(folder: Path, org: OrganisationKeys) -> Path:
    path = folder / "config.toml"
    path.write_text(
        minimal_toml(
            (org.signing.public_key.to_text(ORG_SIGNING_PREFIX), org.recovery.public_key.to_text()),
            tables="[retention]\nclosed_report_days = 60\nmailbox_days = 45\n",
        )
    )
    return path


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    org = OrganisationKeys.generate()
    config_path = write_config(tmp_path, org)
    # minimal_toml's database is state/sanad.sqlite3, relative to the configuration file.
    db = open_database(f"sqlite:///{tmp_path / 'state' / 'sanad.sqlite3'}")
    await upgrade_database(db)
    config = load_config(config_path)
    state_dir = config.server.state_dir
    seal = install_audit_seal(db, state_dir, load_or_create_bot_key(state_dir))
    try:
        yield Deployment(tmp_path, config_path, config, org, db, seal)
    finally:
        await db.close()


async def populate(
    db: Database, org: OrganisationKeys, state_dir: Path, today: dt.date
) -> list[str]:
    """A small deployment's worth of rows, stored on ``today``; returns every identifier that
    must stay unshown."""
    chat_id = 5_300_000_000 + secrets.randbelow(10**8)
    label = f"amal-{secrets.token_hex(3)}"
    caseworker_id, _ = await approved(db, org, label, chat_id=chat_id)
    waiting = await store_opaque_report(db, today=today - dt.timedelta(days=8))
    recent = await store_opaque_report(db, today=today)
    closed = await store_opaque_report(db, caseworker_id=caseworker_id, today=today)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Report)
            .where(Report.id == closed.report_id)
            .values(status=ReportStatus.CLOSED, closed_day=today - dt.timedelta(days=10))
        )
        await session.execute(
            update(OutboxEntry).values(status=DeliveryStatus.FAILED, last_error="Forbidden")
        )
        # I9: a reply written straight into the database, signed by no one.
        session.add(
            MailboxMessage(
                mailbox_id=await session.scalar(
                    select(Mailbox.id).where(Mailbox.report_id == recent.report_id)
                ),
                sequence=0,
                direction=Direction.TO_REPORTER,
                message_sealed=secrets.token_bytes(300),
                signer=2,
                signer_key_id=secrets.token_bytes(16),
                signature=secrets.token_bytes(64),
                created_day=today,
            )
        )
    certify_bot(state_dir, org.signing, days=BOT_CERTIFICATE_DAYS, today=today)
    (state_dir / "secrets").mkdir(mode=0o700, parents=True, exist_ok=True)
    reporter_chat = 7_400_000_000_000 + secrets.randbelow(10**9)
    await Housekeeping(
        db, HousekeepingKeyring.of_state_dir(state_dir), retention=dt.timedelta(hours=24)
    ).keep_for_erasure(reporter_chat, [41, 42])
    stored = (waiting, recent, closed)
    return [
        label,
        str(chat_id),
        str(reporter_chat),
        *(s.case_reference for s in stored),
        *(s.report_id.hex() for s in stored),
    ]


async def test_status_subprocess_shows_counts_and_deadlines_and_no_identifiers(
    deployment: Deployment, utc_day: dt.date
) -> None:
    identifiers = await populate(
        deployment.db, deployment.org, deployment.config.server.state_dir, utc_day
    )

    result = deployment.sanad("admin", "status")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "reports: received 2, assigned 0, in_progress 0, closed 1" in lines
    assert "unassigned for 7+ days: 1  <- assign them with `sanad admin reassign`" in lines
    assert (
        "deliveries: pending 0, failed 1 (Forbidden 1)"
        "  <- once the cause is gone, queue them again with `sanad admin redeliver --all`"
    ) in lines
    assert "caseworkers: pending 0, verified 1, revoked 0" in lines
    assert f"enrolments waiting for approval: 0 of {MAX_PENDING_ENROLMENTS}" in lines
    assert "replies failing their signature check: 1  (not shown to reporters)" in lines
    expires = utc_day + dt.timedelta(days=BOT_CERTIFICATE_DAYS)
    assert f"bot certificate: valid until {expires.isoformat()}" in lines
    assert (
        f"warning: the bot certificate expires in {BOT_CERTIFICATE_DAYS} days"
        f"  <- renew it with {CERTIFY_BOT}"
    ) in lines
    assert "  forward  every 600-900 s" in lines
    assert "  chat housekeeping (24 h): in 1 day" in lines
    assert "  closed-report retention (60 days): in 50 days" in lines
    assert "  mailbox expiry (45 days after last look-up): in 37 days" in lines
    assert not [i for i in identifiers if i in result.stdout + result.stderr]


async def test_gather_status_counts_on_each_backend(
    db: Database, tmp_path: Path, utc_day: dt.date
) -> None:
    org = OrganisationKeys.generate()
    config = load_config(write_config(tmp_path, org))
    await populate(db, org, tmp_path / "state", utc_day)
    for label in ("first", "second"):
        await enrolled(db, label, today=utc_day)

    found = await gather_status(db, config, dt.datetime.now(dt.UTC))

    assert dict(found.reports) == {"received": 2, "assigned": 0, "in_progress": 0, "closed": 1}
    assert (found.unassigned_overdue, found.pending, dict(found.failed)) == (1, 0, {"Forbidden": 1})
    assert found.deadlines.closed_report == utc_day + dt.timedelta(days=50)
    assert found.deadlines.mailbox == utc_day + dt.timedelta(days=37)
    assert found.replies_unverified == 1
    assert (found.enrolments_waiting, found.enrolments_limit) == (2, MAX_PENDING_ENROLMENTS)
    assert found.bot_certificate.expires == utc_day + dt.timedelta(days=BOT_CERTIFICATE_DAYS)
    assert found.bot_certificate.renewal_due


async def test_status_without_a_bot_certificate_still_reports_and_says_so(
    deployment: Deployment,
) -> None:
    # A server where certify-bot never ran has no bot key (the fixture's audit seal made one).
    shutil.rmtree(deployment.config.server.state_dir / "bot")
    result = deployment.sanad("admin", "status")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"bot certificate: none, so the bot will not start  <- make one with {CERTIFY_BOT}" in (
        lines
    )
    assert "replies failing their signature check: 0" in lines
    # A read-only command: it does not make a bot key either.
    assert not (deployment.config.server.state_dir / "bot").exists()


async def test_status_names_a_bot_certificate_from_another_organisation(
    db: Database, tmp_path: Path
) -> None:
    org = OrganisationKeys.generate()
    config = load_config(write_config(tmp_path, org))
    certify_bot(config.server.state_dir, OrganisationKeys.generate().signing)

    found = await gather_status(db, config, dt.datetime.now(dt.UTC))

    assert found.bot_certificate.expires is None
    assert str(found.bot_certificate.problem) == (
        "the bot certificate was not signed by the organisation key in the configuration"
    )


async def append_entries(db: Database, count: int) -> list[int]:
    ids, today = [], dt.datetime.now(dt.UTC).date()
    for n in range(count):
        async with db.sessionmaker() as session, session.begin():
            entry = await audit.append(
                session, "case.reassigned", secrets.token_bytes(16), {"bodies": n + 1}, today
            )
            ids.append(entry.id)
    return ids


def failure_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The ``sanad:`` lines of a failed command, checking there is nothing else but one hint."""
    assert result.returncode == 1
    *problems, last = result.stderr.splitlines()
    if not last.startswith("hint: "):
        problems.append(last)
    assert problems
    assert all(line.startswith("sanad: ") for line in problems)
    return problems


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    [line] = failure_lines(result)
    return line


async def test_audit_subprocess_prints_the_log_and_verifies_it(deployment: Deployment) -> None:
    await append_entries(deployment.db, 3)

    listed = deployment.sanad("admin", "audit")
    as_json = deployment.sanad("admin", "audit", "--json")
    verified = deployment.sanad("admin", "audit", "--verify")

    assert listed.returncode == 0, listed.stderr
    header, *entries, head_line, head = listed.stdout.splitlines()
    assert header == "entry  day  event  actor  counts"
    assert [line.split("  ")[2] for line in entries] == ["case.reassigned"] * 3
    assert [line.split("  ")[4] for line in entries] == ["bodies=1", "bodies=2", "bodies=3"]
    assert head_line == "head after 3 entries:"
    document = json.loads(as_json.stdout)
    assert [entry["counts"] for entry in document["entries"]] == [{"bodies": n} for n in (1, 2, 3)]
    assert all(len(entry["actor"]) == 16 for entry in document["entries"])  # short hex key id
    assert head == f"  {document['head']}"
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.splitlines()[-2:] == ["chain intact: 3 entries, head:", head]


async def test_audit_verify_subprocess_names_an_edited_entry(deployment: Deployment) -> None:
    ids = await append_entries(deployment.db, 3)
    async with deployment.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(AuditEntry).where(AuditEntry.id == ids[1]).values(event="case.closed")
        )
    line = one_line_failure(deployment.sanad("admin", "audit", "--verify"))
    assert line == (
        f"sanad: audit chain broken at entry #{ids[1]}: it was changed after it was written"
    )


async def test_audit_verify_subprocess_names_the_entry_after_a_deleted_one(
    deployment: Deployment,
) -> None:
    ids = await append_entries(deployment.db, 3)
    async with deployment.db.sessionmaker() as session, session.begin():
        await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    assert failure_lines(deployment.sanad("admin", "audit", "--verify")) == [
        f"sanad: audit chain broken at entry #{ids[2]}: it does not follow the entry before it",
        "sanad: audit log truncated: 3 entries recorded, 2 found",
    ]


async def test_audit_verify_subprocess_catches_the_newest_entries_deleted(
    deployment: Deployment,
) -> None:
    ids = await append_entries(deployment.db, 3)
    async with deployment.db.sessionmaker() as session, session.begin():
        await session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids[1:])))
    line = one_line_failure(deployment.sanad("admin", "audit", "--verify"))
    assert line == "sanad: audit log truncated: 3 entries recorded, 1 found"


async def test_audit_verify_subprocess_names_an_entry_resigned_without_the_bot_key(
    deployment: Deployment,
) -> None:
    ids = await append_entries(deployment.db, 2)
    async with deployment.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(AuditEntry).where(AuditEntry.id == ids[0]).values(signature=bytes(64))
        )
    line = one_line_failure(deployment.sanad("admin", "audit", "--verify"))
    assert line == f"sanad: audit entry #{ids[0]} is not signed by the bot key here"


async def test_audit_verify_refuses_without_the_bot_key(deployment: Deployment) -> None:
    await append_entries(deployment.db, 1)
    shutil.rmtree(deployment.config.server.state_dir / "bot")
    line = one_line_failure(deployment.sanad("admin", "audit", "--verify"))
    assert line.startswith("sanad: there is no bot key in ")
    assert not (deployment.config.server.state_dir / "bot").exists()  # and none was made


async def test_admin_commands_seal_their_audit_entries(deployment: Deployment) -> None:
    await append_entries(deployment.db, 1)
    await insert_by_hand(deployment.db, "amal", status=CaseworkerStatus.PENDING)

    changed = deployment.sanad("admin", "languages", "amal", "ar")
    verified = deployment.sanad("admin", "audit", "--verify", "--json")

    assert changed.returncode == 0, changed.stderr
    assert verified.returncode == 0, verified.stderr
    document = json.loads(verified.stdout)
    assert document["verified"] is True
    assert [entry["event"] for entry in document["entries"]] == [
        "case.reassigned",
        "caseworker.languages_set",
    ]
    recorded = deployment.seal.recorded_head()
    assert recorded is not None
    assert recorded[0] == 2


async def test_admin_listings_fit_80_columns_and_never_cut_label_status_or_fingerprint(
    deployment: Deployment, utc_day: dt.date
) -> None:
    await populate(deployment.db, deployment.org, deployment.config.server.state_dir, utc_day)
    await append_entries(deployment.db, 2)
    label = "Amal-Beirut-legal-aid-evening-02"  # the longest a label may be: 32 bytes
    await insert_by_hand(deployment.db, label, status=CaseworkerStatus.PENDING)

    listed = deployment.sanad("admin", "caseworkers", columns=80)
    as_json = deployment.sanad("admin", "caseworkers", "--json", columns=80)
    status = deployment.sanad("admin", "status", columns=80)
    audit_log = deployment.sanad("admin", "audit", columns=80)

    for result in (listed, as_json, status, audit_log):
        assert result.returncode == 0, result.stderr
        assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
    [record] = [r for r in json.loads(as_json.stdout) if r["label"] == label]
    lines = listed.stdout.splitlines()
    # Each value whole, on its own line: what the verification procedure asks to compare.
    assert f"  label        {label}" in lines
    assert "  status       pending" in lines
    assert f"  fingerprint  {record['fingerprint']}" in lines
    # Status lines longer than the terminal are wrapped, not cut: every word is still there.
    assert "<- renew it with `sanad admin certify-bot --org-key FILE`" in " ".join(
        line.strip() for line in status.stdout.splitlines()
    )
    document = json.loads(deployment.sanad("admin", "status", "--json").stdout)
    assert document["reports"] == {"received": 2, "assigned": 0, "in_progress": 0, "closed": 1}
    assert document["deliveries"]["failed"] == {"Forbidden": 1}
