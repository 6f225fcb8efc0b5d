"""I9: a revocation cannot be undone by a database writer.

The highest revocation list serial the bot accepted is kept in ``<state_dir>/revocation-serial``
(and may be pinned in the configuration). A database whose latest valid list is below it — the
list deleted, the caseworker's status flipped back to verified — seals to nobody, and the bot
does not start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from bot.bot_identity import BotNotCertified, certify_bot, load_bot_identity
from bot.config import ConfigError, load_config
from bot.revocation_mark import mark_path, raise_mark, read_mark, revocation_floor
from bot.runtime import Runtime
from bot.services import caseworkers as service
from bot.services import key_lifecycle as lifecycle
from crypto import issue_revocation_list
from crypto.keys import ORG_SIGNING_PREFIX, OrganisationKeys
from storage.engine import Database
from storage.models import Caseworker, CaseworkerStatus, Language, RevocationList
from tests.config.conftest import minimal_toml

from .conftest import TODAY, approved


def test_the_mark_starts_at_zero_and_only_grows(tmp_path: Path) -> None:
    assert read_mark(tmp_path) == 0
    assert raise_mark(tmp_path, 5)
    assert not raise_mark(tmp_path, 3)
    assert not raise_mark(tmp_path, 5)
    assert read_mark(tmp_path) == 5
    assert stat.S_IMODE(mark_path(tmp_path).stat().st_mode) == 0o600
    assert revocation_floor(tmp_path, 7) == 7
    assert revocation_floor(tmp_path, 0) == 5


def test_a_damaged_mark_is_refused_not_read_as_zero(tmp_path: Path) -> None:
    mark_path(tmp_path).write_text("five\n")
    mark_path(tmp_path).chmod(0o600)
    with pytest.raises(ConfigError, match="damaged"):
        read_mark(tmp_path)


def test_a_mark_others_can_read_or_a_symlink_is_refused(tmp_path: Path) -> None:
    raise_mark(tmp_path, 2)
    mark_path(tmp_path).chmod(0o644)
    with pytest.raises(ConfigError, match="private"):
        read_mark(tmp_path)
    mark_path(tmp_path).unlink()
    target = tmp_path / "elsewhere"
    target.write_text("9\n")
    os.symlink(target, mark_path(tmp_path))
    with pytest.raises(ConfigError, match="cannot be read"):
        read_mark(tmp_path)


def test_no_state_directory_leaves_the_mark_to_the_bot(tmp_path: Path) -> None:
    assert not raise_mark(tmp_path / "absent", 4)


async def _revoke(
    db: Database, org: OrganisationKeys, who: str, floor: int = 0, *, after_rollback: bool = False
) -> int:
    result = await lifecycle.revoke(
        db,
        who=who,
        signing_key=org.signing,
        org_public=org.signing.public_key,
        today=TODAY,
        min_serial=floor,
        after_rollback=after_rollback,
    )
    return result.serial


async def _undo_revocation_in_the_database(db: Database, caseworker_id: int) -> None:
    """What a database writer can do: drop every list and flip the status back."""
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(RevocationList))
        await session.execute(
            update(Caseworker)
            .where(Caseworker.id == caseworker_id)
            .values(status=CaseworkerStatus.VERIFIED)
        )


async def test_a_deleted_revocation_list_with_the_status_flipped_back_makes_no_recipient(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, _ = await approved(db, org, "Amal")
    serial = await _revoke(db, org, "Amal")
    await _undo_revocation_in_the_database(db, caseworker_id)

    async with db.sessionmaker() as session, session.begin():
        with pytest.raises(service.RevocationsRolledBack, match=f"serial {serial} or above"):
            await service.choose_caseworker(
                session, org.signing.public_key, TODAY, Language.AR, min_serial=serial
            )
        with pytest.raises(service.RevocationsRolledBack):
            await service.eligible_caseworker(
                session, caseworker_id, org.signing.public_key, TODAY, min_serial=serial
            )


async def test_an_older_valid_list_does_not_stand_in_for_the_latest(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, _ = await approved(db, org, "Amal")
    async with db.sessionmaker() as session, session.begin():
        session.add(RevocationList(serial=1, signed=issue_revocation_list(org.signing, serial=1)))
    serial = await _revoke(db, org, "Amal")
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(RevocationList).where(RevocationList.serial == serial))
        await session.execute(
            update(Caseworker)
            .where(Caseworker.id == caseworker_id)
            .values(status=CaseworkerStatus.VERIFIED)
        )
        with pytest.raises(service.RevocationsRolledBack):
            await service.eligible_caseworkers(
                session, org.signing.public_key, TODAY, min_serial=serial
            )


async def test_a_revocation_signed_again_above_the_mark_restores_sealing(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, _ = await approved(db, org, "Amal")
    other_id, _ = await approved(db, org, "Salma")
    serial = await _revoke(db, org, "Amal")
    await _undo_revocation_in_the_database(db, caseworker_id)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Caseworker)
            .where(Caseworker.id == caseworker_id)
            .values(status=CaseworkerStatus.REVOKED)
        )

    again = await _revoke(db, org, "Amal", floor=serial, after_rollback=True)

    assert again > serial
    async with db.sessionmaker() as session, session.begin():
        eligible = await service.eligible_caseworkers(
            session, org.signing.public_key, TODAY, min_serial=serial
        )
    assert [r.caseworker_id for r in eligible] == [other_id]


async def test_revoking_someone_else_signs_no_list_over_rolled_back_revocations(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_id, _ = await approved(db, org, "Amal")
    await approved(db, org, "Salma")
    serial = await _revoke(db, org, "Amal")
    await _undo_revocation_in_the_database(db, caseworker_id)

    # A new list built on what the database still holds would lift the mark over a list that
    # no longer names Amal: she would be a recipient again.
    with pytest.raises(service.RevocationsRolledBack, match=f"serial {serial} or above"):
        await _revoke(db, org, "Salma", floor=serial)

    async with db.sessionmaker() as session, session.begin():
        assert list(await session.scalars(select(RevocationList.serial))) == []
        with pytest.raises(service.RevocationsRolledBack):
            await service.eligible_caseworkers(
                session, org.signing.public_key, TODAY, min_serial=serial
            )


def _runtime(tmp_path: Path, org: OrganisationKeys, *, organisation: str = "") -> Runtime:
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        minimal_toml(
            (org.signing.public_key.to_text(ORG_SIGNING_PREFIX), org.recovery.public_key.to_text()),
            organisation=organisation,
        )
    )
    config = load_config(config_file)
    certify_bot(config.server.state_dir, org.signing)
    return Runtime.open(config)


async def test_the_bot_refuses_to_start_when_revocations_were_removed(
    tmp_path: Path, org: OrganisationKeys
) -> None:
    runtime = _runtime(tmp_path, org)
    try:
        await runtime.prepare()
        caseworker_id, _ = await approved(runtime.database, org, "Amal")
        serial = await _revoke(runtime.database, org, "Amal")
        await runtime.prepare()  # sees the list: raises the mark to it
        assert read_mark(runtime.config.server.state_dir) == serial
        await _undo_revocation_in_the_database(runtime.database, caseworker_id)

        with pytest.raises(service.RevocationsRolledBack) as refused:
            await runtime.prepare()
    finally:
        await runtime.close()
    assert "\n" not in str(refused.value)
    assert refused.value.hint is not None


async def test_the_configured_floor_refuses_a_database_without_lists(
    tmp_path: Path, org: OrganisationKeys
) -> None:
    runtime = _runtime(tmp_path, org, organisation="min_revocation_serial = 3")
    try:
        with pytest.raises(service.RevocationsRolledBack, match="serial 3 or above"):
            await runtime.prepare()
    finally:
        await runtime.close()


async def test_the_bot_refuses_to_start_when_the_list_names_its_own_key(
    tmp_path: Path, org: OrganisationKeys
) -> None:
    runtime = _runtime(tmp_path, org)
    try:
        await runtime.prepare()
        state_dir = runtime.config.server.state_dir
        bot_key_id = load_bot_identity(state_dir, org.signing.public_key).public_key.key_id
        async with runtime.database.sessionmaker() as session, session.begin():
            session.add(
                RevocationList(
                    serial=1,
                    signed=issue_revocation_list(org.signing, serial=1, key_ids=[bot_key_id]),
                )
            )
        with pytest.raises(BotNotCertified, match="revoked"):
            await runtime.prepare()
    finally:
        await runtime.close()
