"""I9 in the admin commands: a revocation cannot be undone by a database writer.

Every ``sanad admin`` command that judges a caseworker by the revocation list asks for a list at
or above the high-water mark in the state directory. The attack each test makes: two caseworkers
are revoked (lists 1 and 2, the mark at 2), then a database writer deletes list 2 — list 1 still
verifies, and does not name the second one — and sets that caseworker's row back to
``verified``. Their certificate is still valid; only the mark says they were revoked. Real
``sanad`` subprocesses against a real SQLite file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from bot.revocation_mark import read_mark
from bot.services import caseworkers
from crypto import CertificateError, verify_certificate, verify_revocation_list
from crypto.certificates import today_utc
from crypto.keys import ORG_SIGNING_PREFIX, Ed25519PublicKey
from storage.models import Caseworker, CaseworkerStatus, RevocationList
from tests.caseworkers.test_admin_cli import Deployment, deployment

from .conftest import opens, store_case
from .test_cli import _approve, _ok, _rotate_signing, rotated_with_a_case

__all__ = ["deployment"]

pytestmark = pytest.mark.slow


async def _revoke_then_roll_back(d: Deployment, label: str) -> int:
    """Revoke someone else, then ``label``'s caseworker (a rotated key takes its older ones with
    it); then delete that second list and set ``label``'s row back to verified. Returns the
    mark, which the second list raised."""
    await _approve(d, "Tarek")
    _ok(d.sanad("admin", "revoke", "Tarek", "--org-key", str(d.signing_key)))
    _ok(d.sanad("admin", "revoke", label, "--org-key", str(d.signing_key)))
    mark = read_mark(d.folder / "state")
    async with d.db.sessionmaker() as session, session.begin():
        await session.execute(delete(RevocationList).where(RevocationList.serial >= mark))
        await session.execute(
            update(Caseworker)
            .where(Caseworker.label == label)
            .values(status=CaseworkerStatus.VERIFIED)
        )
    return mark


def _refused_for_rollback(result: subprocess.CompletedProcess[str], mark: int) -> None:
    assert result.returncode == 1, result.stdout
    assert f"no valid revocation list with serial {mark} or above" in result.stderr


async def test_reassign_refuses_a_caseworker_whose_revocation_was_rolled_back(
    deployment: Deployment,
) -> None:
    d = deployment
    _, keys = await _approve(d, "Nour")
    mark = await _revoke_then_roll_back(d, "Nour")
    reference, parts = await store_case(d.db, [d.org.recovery.public_key])

    refused = d.sanad(
        "admin", "reassign", reference, "--to", "Nour", "--recovery-key", str(d.recovery_key)
    )

    _refused_for_rollback(refused, mark)
    assert not await opens(d.db, parts[0], keys.encryption)


async def test_rewrap_refuses_a_new_key_whose_revocation_was_rolled_back(
    deployment: Deployment,
) -> None:
    d = deployment
    parts, _, new_id, new_keys = await rotated_with_a_case(d)
    async with d.db.sessionmaker() as session:
        new_label = await session.scalar(select(Caseworker.label).where(Caseworker.id == new_id))
    assert new_label is not None
    mark = await _revoke_then_roll_back(d, new_label)

    refused = d.sanad(
        "admin", "rewrap", "--caseworker", new_label, "--recovery-key", str(d.recovery_key)
    )

    _refused_for_rollback(refused, mark)
    assert not await opens(d.db, parts[0], new_keys.encryption)


async def test_status_refuses_a_database_whose_revocations_were_rolled_back(
    deployment: Deployment,
) -> None:
    d = deployment
    await _approve(d, "Nour")
    mark = await _revoke_then_roll_back(d, "Nour")

    _refused_for_rollback(d.sanad("admin", "status"), mark)


async def test_revoke_signs_over_rolled_back_revocations_only_when_told(
    deployment: Deployment,
) -> None:
    d = deployment
    await _approve(d, "Nour")
    mark = await _revoke_then_roll_back(d, "Nour")
    await _approve(d, "Salma")

    refused = d.sanad("admin", "revoke", "Salma", "--org-key", str(d.signing_key))
    _refused_for_rollback(refused, mark)
    assert "--after-rollback" in refused.stderr

    for label in ("Nour", "Salma"):
        _ok(d.sanad("admin", "revoke", label, "--org-key", str(d.signing_key), "--after-rollback"))
    async with d.db.sessionmaker() as session:
        eligible = await caseworkers.eligible_caseworkers(
            session, d.org.signing.public_key, today_utc(), min_serial=read_mark(d.folder / "state")
        )
    assert read_mark(d.folder / "state") > mark
    assert eligible == []


async def _rotate(d: Deployment, out: Path, *extra: str) -> tuple[Path, Path, Ed25519PublicKey]:
    """``sanad org rotate-signing`` and the new key pinned in the configuration."""
    _, new_public = await _rotate_signing(d, out, *extra)
    d.config.write_text(
        d.config.read_text().replace(
            d.org.signing.public_key.to_text(ORG_SIGNING_PREFIX), new_public
        )
    )
    pinned = Ed25519PublicKey.from_text(new_public, prefix=ORG_SIGNING_PREFIX)
    return out / "org-signing.key", out / "org-signing-rotation.sanad", pinned


async def _lists_under(d: Deployment, key: Ed25519PublicKey) -> list[int]:
    """The serials of the stored lists that ``key`` signed."""
    serials = []
    async with d.db.sessionmaker() as session:
        for signed in await session.scalars(select(RevocationList.signed)):
            try:
                serials.append(verify_revocation_list(signed, key, min_serial=0).serial)
            except CertificateError:
                continue  # the old key's list
    return serials


async def test_a_signing_rotation_re_issues_nothing_from_rolled_back_revocations(
    deployment: Deployment, tmp_path: Path
) -> None:
    d = deployment
    await _approve(d, "Nour")
    mark = await _revoke_then_roll_back(d, "Nour")
    new_key, statement, pinned = await _rotate(d, tmp_path / "new")

    refused = d.sanad(
        "admin", "approve", "--all", "--org-key", str(new_key), "--rotation", str(statement)
    )

    _refused_for_rollback(refused, mark)
    async with d.db.sessionmaker() as session:
        certificate = await session.scalar(
            select(Caseworker.certificate).where(Caseworker.label == "Nour")
        )
    assert certificate is not None
    with pytest.raises(CertificateError):  # not signed again by the new key
        verify_certificate(certificate, pinned)
    assert await _lists_under(d, pinned) == []


async def test_a_compromised_rotation_signs_no_list_from_rolled_back_revocations(
    deployment: Deployment, tmp_path: Path
) -> None:
    d = deployment
    await _approve(d, "Nour")
    mark = await _revoke_then_roll_back(d, "Nour")
    new_key, statement, pinned = await _rotate(d, tmp_path / "new", "--compromised")

    refused = d.sanad(
        "admin", "approve", "--all", "--org-key", str(new_key), "--rotation", str(statement)
    )

    _refused_for_rollback(refused, mark)
    assert await _lists_under(d, pinned) == []
    assert read_mark(d.folder / "state") == mark
