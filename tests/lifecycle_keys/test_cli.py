"""The key lifecycle commands as real ``sanad`` subprocesses against a real SQLite file: revoke
and reassign everything, re-wrap after a key rotation, a recovery key rotation killed with
SIGKILL and resumed (and ``sanad run`` refusing to start in between), a signing key rotation
with certificates re-issued, and a pepper rotation.

Key files use the lightest Argon2id settings; passphrases come through ``SANAD_PASSPHRASE``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.bot_identity import certify_bot
from bot.local_api import LocalBotApi
from bot.revocation_mark import read_mark
from bot.services import caseworkers
from crypto import EnvelopeKind, Wrap, new_report_id, open_report, seal_report
from crypto.certificates import today_utc
from crypto.keyfile import MINIMUM, load_org_signing_key, save_org_recovery_key
from crypto.keys import ORG_SIGNING_PREFIX, CaseworkerKeys, Ed25519PublicKey, X25519SecretKey
from storage.models import BodyKind, Caseworker, CaseworkerStatus, Language, Report, ReportBody
from storage.models import Wrap as WrapRow
from storage.repositories import new_case_reference
from tests.caseworkers.conftest import insert_by_hand, new_chat_id
from tests.caseworkers.test_admin_cli import PASSPHRASE, Deployment, deployment

from .conftest import Part, opens, store_case, wraps_under

__all__ = ["deployment"]

pytestmark = pytest.mark.slow

PARTS = 1500


async def _approve(
    d: Deployment, label: str, *, chat_id: int | None = None
) -> tuple[int, CaseworkerKeys]:
    enrolment, keys = await d.enrol(label, chat_id=chat_id)
    await d.approve(enrolment)
    return enrolment.caseworker_id, keys


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_revoke_then_reassign_all_leaves_nothing_for_the_revoked_key(
    deployment: Deployment,
) -> None:
    d = deployment
    bad_id, bad_keys = await _approve(d, "Nour")
    _, good_keys = await _approve(d, "Omar")
    recipients = [d.org.recovery.public_key, bad_keys.public.encryption]
    cases = [await store_case(d.db, recipients, caseworker_id=bad_id) for _ in range(2)]

    out = _ok(d.sanad("admin", "revoke", "Nour", "--org-key", str(d.signing_key)))
    assert "2 open case(s) to reassign" in out
    for reference, _ in cases:
        assert reference in out
    assert await wraps_under(d.db, bad_keys.public.encryption) == 0

    out = _ok(
        d.sanad(
            "admin",
            "reassign",
            "--all-from",
            str(bad_id),
            "--to",
            "Omar",
            "--recovery-key",
            str(d.recovery_key),
        )
    )
    assert "2 case(s) reassigned" in out
    for _, parts in cases:
        assert await opens(d.db, parts[0], good_keys.encryption)
        assert not await opens(d.db, parts[0], bad_keys.encryption)
    refused = d.sanad(
        "admin", "approve", "Nour", "--org-key", str(d.signing_key), "--confirm", "1234 5678"
    )
    assert refused.returncode == 1
    assert "revoked" in refused.stderr


async def rotated_with_a_case(
    d: Deployment,
) -> tuple[list[Part], CaseworkerKeys, int, CaseworkerKeys]:
    """Rana, approved, holds an open case; then her new key (``Rana/2``) is approved too.
    Returns the case's parts, the old keys, the new row's id and the new keys."""
    chat = new_chat_id()
    old_id, old_keys = await _approve(d, "Rana", chat_id=chat)
    _, parts = await store_case(
        d.db, [d.org.recovery.public_key, old_keys.public.encryption], caseworker_id=old_id
    )
    new_id, new_keys = await _approve(d, "Rana", chat_id=chat)
    return parts, old_keys, new_id, new_keys


async def test_rewrap_moves_cases_to_the_rotated_key(deployment: Deployment) -> None:
    d = deployment
    parts, old_keys, new_id, new_keys = await rotated_with_a_case(d)

    out = _ok(
        d.sanad(
            "admin", "rewrap", "--caseworker", str(new_id), "--recovery-key", str(d.recovery_key)
        )
    )
    assert "1 part(s) re-wrapped" in out
    assert await opens(d.db, parts[0], new_keys.encryption)
    assert await wraps_under(d.db, old_keys.public.encryption) == 0


async def _many_parts(d: Deployment, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` reports sealed to the recovery key alone, in one transaction; (id, canary)."""
    made: list[tuple[bytes, bytes]] = []
    async with d.db.sessionmaker() as session, session.begin():
        for _ in range(count):
            report_id, canary = new_report_id(), secrets.token_bytes(12)
            sealed = seal_report(
                canary,
                report_id=report_id,
                sequence=0,
                kind=EnvelopeKind.REPORT,
                recipients=[d.org.recovery.public_key],
            )
            session.add(
                Report(
                    id=report_id,
                    case_reference=new_case_reference(),
                    language=Language.EN,
                    created_day=today_utc(),
                )
            )
            await session.flush()
            session.add(
                ReportBody(
                    report_id=report_id,
                    sequence=0,
                    kind=BodyKind.REPORT,
                    body_sealed=sealed.body_sealed,
                    created_day=today_utc(),
                )
            )
            session.add_all(
                WrapRow(report_id=report_id, sequence=0, recipient_key_id=w.key_id, wrap=w.wrap)
                for w in sealed.wraps
            )
            made.append((report_id, canary))
    return made


async def _readable_by(d: Deployment, key: X25519SecretKey) -> int:
    async with d.db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(ReportBody.report_id, ReportBody.body_sealed, WrapRow.wrap).join(
                    WrapRow,
                    (WrapRow.report_id == ReportBody.report_id)
                    & (WrapRow.sequence == ReportBody.sequence)
                    & (WrapRow.recipient_key_id == key.public_key.key_id),
                )
            )
        ).all()
    for report_id, body, wrap in rows:
        open_report(
            body,
            Wrap(key.public_key.key_id, wrap),
            report_id=report_id,
            sequence=0,
            kind=EnvelopeKind.REPORT,
            secret_key=key,
        )
    return len(rows)


def _sanad_command() -> list[str]:
    return [sys.executable, "-m", "bot.cli"]


async def test_recovery_rotation_killed_mid_way_resumes_and_the_bot_refuses_to_start_between(
    deployment: Deployment, tmp_path: Path
) -> None:
    d = deployment
    await _many_parts(d, PARTS)
    new = X25519SecretKey.generate()
    new_file = tmp_path / "new" / "org-recovery.key"
    new_file.parent.mkdir()
    save_org_recovery_key(new_file, new, "organisation", PASSPHRASE, kdf=MINIMUM)
    rotate = [
        "admin",
        "rotate-recovery",
        "--old-key",
        str(d.recovery_key),
        "--new-key",
        str(new_file),
        "--config",
        str(d.config),
    ]
    env = {**os.environ, "SANAD_PASSPHRASE": PASSPHRASE}

    process = await asyncio.create_subprocess_exec(
        *_sanad_command(),
        *rotate,
        "--batch-size",
        "10",
        cwd=d.folder,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    assert first.startswith(b"re-wrapped ")

    moved = await wraps_under(d.db, new.public_key)
    left = await wraps_under(d.db, d.org.recovery.public_key)
    assert 0 < moved < PARTS
    assert moved + left == PARTS  # each report has exactly one recovery wrap, old or new

    # The admin has already put the new key into the configuration: the bot must not start.
    config = d.config.read_text().replace(
        d.org.recovery.public_key.to_text(), new.public_key.to_text()
    )
    async with LocalBotApi.running(seed=3) as api:
        token = api.add_bot()
        d.config.write_text(config.replace("https://api.telegram.org", api.url))
        run = await asyncio.create_subprocess_exec(
            *_sanad_command(),
            "run",
            "--config",
            str(d.config),
            cwd=d.folder,
            env={**env, "SANAD_TEST_TOKEN": token},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(run.communicate(), timeout=60)
        finally:
            if run.returncode is None:
                run.send_signal(signal.SIGKILL)
                await run.wait()
    assert run.returncode == 1
    message = stderr.decode()
    assert "recovery key rotation is unfinished" in message
    assert "sanad admin rotate-recovery" in message
    assert "Traceback" not in message

    resumed = await asyncio.to_thread(
        subprocess.run,
        [*_sanad_command(), *rotate],
        cwd=d.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = _ok(resumed)
    assert f"{moved} already on the new key" in out
    assert f'recovery_public_key = "{new.public_key.to_text()}"' in out
    assert await _readable_by(d, new) == PARTS
    assert await _readable_by(d, d.org.recovery) == 0


async def test_signing_rotation_reissues_certificates_only_for_caseworkers_the_old_key_signed(
    deployment: Deployment, tmp_path: Path
) -> None:
    d = deployment
    good_id, _ = await _approve(d, "Salma")
    revoked_id, _ = await _approve(d, "Tarek")
    _ok(d.sanad("admin", "revoke", "Tarek", "--org-key", str(d.signing_key)))
    intruder_id, _ = await insert_by_hand(d.db, "Intruder", status=CaseworkerStatus.VERIFIED)

    # An org command: it runs on an admin's machine and takes no configuration.
    out = _ok(
        await asyncio.to_thread(
            subprocess.run,
            [
                *_sanad_command(),
                "org",
                "rotate-signing",
                "--old-key",
                str(d.signing_key),
                "--out",
                str(tmp_path / "new"),
            ],
            env={**os.environ, "SANAD_PASSPHRASE": PASSPHRASE},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    )
    line = next(x for x in out.splitlines() if x.startswith("signing_public_key = "))
    new_public = line.split('"')[1]
    assert new_public.startswith(ORG_SIGNING_PREFIX)
    d.config.write_text(
        d.config.read_text().replace(
            d.org.signing.public_key.to_text(ORG_SIGNING_PREFIX), new_public
        )
    )
    new_key = tmp_path / "new" / "org-signing.key"
    statement = tmp_path / "new" / "org-signing-rotation.sanad"

    out = _ok(
        d.sanad(
            "admin", "approve", "--all", "--org-key", str(new_key), "--rotation", str(statement)
        )
    )
    assert f"caseworker(s) {good_id}" in out
    pinned = Ed25519PublicKey.from_text(new_public, prefix=ORG_SIGNING_PREFIX)
    async with d.db.sessionmaker() as session:
        eligible = await caseworkers.eligible_caseworkers(
            session, pinned, today_utc(), min_serial=read_mark(d.folder / "state")
        )
        rows = {r.id: r for r in await session.scalars(select(Caseworker))}
    assert [r.caseworker_id for r in eligible] == [good_id]
    assert rows[revoked_id].status is CaseworkerStatus.REVOKED
    assert rows[intruder_id].certificate is None


async def _rotate_signing(d: Deployment, out: Path, *extra: str) -> tuple[str, str]:
    """``sanad org rotate-signing`` on an admin's machine; returns its output and new key text."""
    printed = _ok(
        await asyncio.to_thread(
            subprocess.run,
            [
                *_sanad_command(),
                "org",
                "rotate-signing",
                "--old-key",
                str(d.signing_key),
                "--out",
                str(out),
                *extra,
            ],
            env={**os.environ, "SANAD_PASSPHRASE": PASSPHRASE},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    )
    line = next(x for x in printed.splitlines() if x.startswith("signing_public_key = "))
    return printed, line.split('"')[1]


async def test_revoke_raises_the_revocation_mark_in_the_state_directory(
    deployment: Deployment,
) -> None:
    d = deployment
    await _approve(d, "Nour")
    out = _ok(d.sanad("admin", "revoke", "Nour", "--org-key", str(d.signing_key)))
    assert "revocation mark raised to 1" in out
    assert read_mark(d.folder / "state") == 1


async def test_a_compromised_rotation_reissues_nothing_and_every_caseworker_is_reapproved(
    deployment: Deployment, tmp_path: Path
) -> None:
    d = deployment
    chat = new_chat_id()
    salma, keys = await d.enrol("Salma", chat_id=chat)
    await d.approve(salma)
    await _approve(d, "Tarek")
    _ok(d.sanad("admin", "revoke", "Tarek", "--org-key", str(d.signing_key)))
    printed, new_public = await _rotate_signing(d, tmp_path / "new", "--compromised")
    assert "every caseworker is ineligible until re-approved" in printed
    assert "/enroll" in printed
    d.config.write_text(
        d.config.read_text().replace(
            d.org.signing.public_key.to_text(ORG_SIGNING_PREFIX), new_public
        )
    )
    new_key = tmp_path / "new" / "org-signing.key"
    statement = tmp_path / "new" / "org-signing-rotation.sanad"

    refused = d.sanad(
        "admin", "approve", "--all", "--org-key", str(new_key), "--rotation", str(statement)
    )

    assert refused.returncode == 1
    assert refused.stderr.startswith("sanad: ")
    assert "compromised key: no certificate was re-issued" in refused.stderr.splitlines()[0]
    assert "--confirm CODE" in refused.stderr
    pinned = Ed25519PublicKey.from_text(new_public, prefix=ORG_SIGNING_PREFIX)
    async with d.db.sessionmaker() as session:
        assert (
            await caseworkers.eligible_caseworkers(
                session, pinned, today_utc(), min_serial=read_mark(d.folder / "state")
            )
            == []
        )
    # The bot is certified by the new key; the caseworker sends /enroll again for a new code.
    new_signing = load_org_signing_key(new_key, PASSPHRASE)[1]
    certify_bot(d.folder / "state", new_signing)
    renewal, _ = await d.enrol("Salma", chat_id=chat, keys=keys)
    reapproved = d.sanad(
        "admin", "approve", "Salma", "--org-key", str(new_key),
        "--confirm", renewal.confirmation_code,
    )  # fmt: skip
    _ok(reapproved)
    async with d.db.sessionmaker() as session:
        [recipient] = await caseworkers.eligible_caseworkers(
            session, pinned, today_utc(), min_serial=read_mark(d.folder / "state")
        )
    assert (recipient.caseworker_id, recipient.delivery_chat_id) == (salma.caseworker_id, chat)
