"""Caseworker key rotation and revocation, on SQLite and PostgreSQL, checked by opening what is
stored with the real keys afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.services import caseworkers
from bot.services import key_lifecycle as lifecycle
from bot.services.mailbox import MailboxService, MailboxSettings, ReplyRefused
from crypto import KdfPool
from crypto.keys import CaseworkerKeys, OrganisationKeys
from storage.engine import Database
from storage.locks import CASE_DELIVERIES
from storage.models import (
    AuditEntry,
    Caseworker,
    CaseworkerStatus,
    DeliveryStatus,
    OutboxEntry,
    Report,
    ReportStatus,
)
from tests.caseworkers.conftest import approve_enrolment
from tests.support.locks import wait_for_release

from .conftest import (
    NOW,
    TODAY,
    approved,
    certified_bot,
    enrolled,
    new_chat_id,
    opens,
    store_case,
    wraps_under,
)


async def _rewrap(db: Database, org: OrganisationKeys, who: str) -> lifecycle.Rewrapping:
    return await lifecycle.rewrap_rotated(
        db,
        who=who,
        recovery_key=org.recovery,
        recovery_public=org.recovery.public_key,
        org_public=org.signing.public_key,
        today=TODAY,
        now=NOW,
        min_serial=0,
    )


async def _revoke(db: Database, org: OrganisationKeys, who: str) -> lifecycle.Revocation:
    return await lifecycle.revoke(
        db,
        who=who,
        signing_key=org.signing,
        org_public=org.signing.public_key,
        today=TODAY,
        min_serial=0,
    )


async def _outbox(db: Database) -> list[OutboxEntry]:
    async with db.sessionmaker() as session:
        return list((await session.scalars(select(OutboxEntry))).all())


async def _rotated_caseworker(
    db: Database, org: OrganisationKeys, label: str
) -> tuple[int, CaseworkerKeys, int, CaseworkerKeys]:
    """A caseworker approved with one key, who then enrols a second from the same chat and is
    approved again: returns (old id, old keys, new id, new keys)."""
    chat = new_chat_id()
    old_id, old_keys = await approved(db, org, label, chat_id=chat)
    rotation, new_keys = await enrolled(db, label, chat_id=chat)
    assert rotation.replaces_id == old_id
    await approve_enrolment(db, org, rotation)
    return old_id, old_keys, rotation.caseworker_id, new_keys


async def test_rotation_moves_open_cases_so_only_the_new_key_opens_them(
    db: Database, org: OrganisationKeys
) -> None:
    old_id, old_keys, new_id, new_keys = await _rotated_caseworker(db, org, "Amal")
    recipients = [org.recovery.public_key, old_keys.public.encryption]
    open_ref, open_parts = await store_case(db, recipients, caseworker_id=old_id, addenda=2)
    closed_ref, closed_parts = await store_case(db, recipients, caseworker_id=old_id)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Report)
            .where(Report.case_reference == closed_ref)
            .values(status=ReportStatus.CLOSED, closed_day=TODAY)
        )

    result = await _rewrap(db, org, str(new_id))

    assert (result.cases, result.parts, result.retired_ids) == (1, 3, (old_id,))
    for part in open_parts:
        assert await opens(db, part, new_keys.encryption)
        assert await opens(db, part, org.recovery)
    for part in [*open_parts, *closed_parts]:
        assert not await opens(db, part, old_keys.encryption)
    assert await wraps_under(db, old_keys.public.encryption) == 0
    async with db.sessionmaker() as session:
        report = await session.scalar(select(Report).where(Report.case_reference == open_ref))
        old_row = await session.get(Caseworker, old_id)
    assert report is not None
    assert report.assigned_caseworker_id == new_id
    assert old_row is not None
    assert old_row.status is CaseworkerStatus.REVOKED
    pending = [o for o in await _outbox(db) if o.status is DeliveryStatus.PENDING]
    assert sorted((o.caseworker_id, o.sequence) for o in pending) == [
        (new_id, 0),
        (new_id, 1),
        (new_id, 2),
    ]


async def test_rewrap_run_twice_changes_nothing_the_second_time(
    db: Database, org: OrganisationKeys
) -> None:
    old_id, old_keys, new_id, new_keys = await _rotated_caseworker(db, org, "Basma")
    _, parts = await store_case(
        db, [org.recovery.public_key, old_keys.public.encryption], caseworker_id=old_id
    )
    await _rewrap(db, org, str(new_id))
    with pytest.raises(caseworkers.CaseworkerError):
        # The old row is retired and holds no case any more: nothing replaces it twice.
        await _rewrap(db, org, str(old_id))
    again = await _rewrap(db, org, str(new_id))
    assert (again.cases, again.parts, again.wraps_removed) == (0, 0, 0)
    assert await opens(db, parts[0], new_keys.encryption)


@pytest.mark.postgres
async def test_rewrap_waits_for_a_transaction_queuing_case_files(
    pg_db: Database, org: OrganisationKeys
) -> None:
    # It queues the moved cases' files, as reassign does: the two take turns with redeliver
    # (tests/delivery/test_case_delivery_lock.py).
    old_id, old_keys, new_id, _ = await _rotated_caseworker(pg_db, org, "Bushra")
    await store_case(
        pg_db, [org.recovery.public_key, old_keys.public.encryption], caseworker_id=old_id
    )

    result = await wait_for_release(pg_db, CASE_DELIVERIES, _rewrap(pg_db, org, str(new_id)))

    assert (result.cases, result.parts) == (1, 1)
    pending = [o for o in await _outbox(pg_db) if o.status is DeliveryStatus.PENDING]
    assert [(o.caseworker_id, o.sequence) for o in pending] == [(new_id, 0)]


async def test_rewrap_refuses_a_new_key_not_yet_approved(
    db: Database, org: OrganisationKeys
) -> None:
    chat = new_chat_id()
    old_id, old_keys = await approved(db, org, "Dalia", chat_id=chat)
    rotation, _ = await enrolled(db, "Dalia", chat_id=chat)
    _, parts = await store_case(
        db, [org.recovery.public_key, old_keys.public.encryption], caseworker_id=old_id
    )
    with pytest.raises(caseworkers.NotEligible):
        await _rewrap(db, org, str(rotation.caseworker_id))
    assert await opens(db, parts[0], old_keys.encryption)


async def test_revoked_key_opens_nothing_and_receives_nothing(
    db: Database, org: OrganisationKeys
) -> None:
    bad_id, bad_keys = await approved(db, org, "Fadi")
    other_id, other_keys = await approved(db, org, "Ghada")
    reference, parts = await store_case(
        db, [org.recovery.public_key, bad_keys.public.encryption], caseworker_id=bad_id, addenda=1
    )
    _, other_parts = await store_case(
        db, [org.recovery.public_key, other_keys.public.encryption], caseworker_id=other_id
    )

    result = await _revoke(db, org, "Fadi")

    assert result.caseworker_ids == (bad_id,)
    assert result.serial == 1
    assert result.open_cases == (reference,)
    assert result.wraps_removed == 2
    assert await wraps_under(db, bad_keys.public.encryption) == 0
    for part in parts:
        assert not await opens(db, part, bad_keys.encryption)
        assert await opens(db, part, org.recovery)
    assert await opens(db, other_parts[0], other_keys.encryption)
    outbox = await _outbox(db)
    assert not [
        o for o in outbox if o.caseworker_id == bad_id and o.status is DeliveryStatus.PENDING
    ]
    assert [o.last_error for o in outbox if o.caseworker_id == bad_id] == [
        lifecycle.REVOKED_DELIVERY_ERROR
    ]
    async with db.sessionmaker() as session:
        assert (
            await caseworkers.eligible_caseworker(
                session, bad_id, org.signing.public_key, TODAY, min_serial=0
            )
            is None
        )
        listed = await caseworkers.latest_revocations(session, org.signing.public_key, min_serial=0)
        events = (await session.scalars(select(AuditEntry.event))).all()
    assert listed is not None
    assert str(bad_id) in listed.caseworker_ids
    assert bad_keys.public.encryption.key_id in listed.key_ids
    assert "caseworker.revoked" in events


async def test_revocation_list_keeps_a_revoked_caseworker_out_even_if_the_row_is_edited_back(
    db: Database, org: OrganisationKeys
) -> None:
    bad_id, _ = await approved(db, org, "Hana")
    await _revoke(db, org, str(bad_id))
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Caseworker)
            .where(Caseworker.id == bad_id)
            .values(status=CaseworkerStatus.VERIFIED)
        )
    async with db.sessionmaker() as session:
        verdict = (
            await caseworkers.assess_caseworkers(
                session, org.signing.public_key, TODAY, min_serial=0
            )
        )[0]
    assert verdict.reason is caseworkers.Ineligibility.REVOKED_BY_LIST


async def test_revoked_caseworkers_reply_is_refused(
    db: Database, org: OrganisationKeys, tmp_path: Path
) -> None:
    chat = new_chat_id()
    bad_id, bad_keys = await approved(db, org, "Imad", chat_id=chat)
    reference, _ = await store_case(
        db, [org.recovery.public_key, bad_keys.public.encryption], caseworker_id=bad_id
    )
    service = MailboxService(
        db,
        KdfPool(1),
        MailboxSettings(
            revocation_floor=lambda: 0,
            org_signing_public=org.signing.public_key,
            recovery_public=org.recovery.public_key,
            receipt_salt=bytes(16),
            receipt_pepper=bytes(32),
            jitter_seconds=0,
        ),
        bot=certified_bot(tmp_path / "state", org),
        clock=lambda: NOW,
    )
    await service.store_reply(chat_id=chat, case_reference=reference, text="before")
    await _revoke(db, org, "Imad")
    with pytest.raises(ReplyRefused):
        await service.store_reply(chat_id=chat, case_reference=reference, text="after")


async def test_revocation_takes_older_and_waiting_keys_but_not_an_approved_successor(
    db: Database, org: OrganisationKeys
) -> None:
    old_id, _, new_id, _ = await _rotated_caseworker(db, org, "Jamil")
    result = await _revoke(db, org, str(old_id))
    assert result.caseworker_ids == (old_id,)
    async with db.sessionmaker() as session:
        assert (
            await caseworkers.eligible_caseworker(
                session, new_id, org.signing.public_key, TODAY, min_serial=0
            )
            is not None
        )

    chat = new_chat_id()
    current_id, _ = await approved(db, org, "Karim", chat_id=chat)
    waiting, _ = await enrolled(db, "Karim", chat_id=chat)
    second = await _revoke(db, org, str(current_id))
    assert set(second.caseworker_ids) == {current_id, waiting.caseworker_id}
    assert second.serial == result.serial + 1
    with pytest.raises(caseworkers.CaseworkerError):
        await approve_enrolment(db, org, waiting)
    with pytest.raises(caseworkers.CaseworkerError, match="already revoked"):
        await _revoke(db, org, str(current_id))


async def test_revoke_refuses_a_signing_key_other_than_the_pinned_one(
    db: Database, org: OrganisationKeys
) -> None:
    bad_id, bad_keys = await approved(db, org, "Lina")
    _, parts = await store_case(
        db, [org.recovery.public_key, bad_keys.public.encryption], caseworker_id=bad_id
    )
    with pytest.raises(caseworkers.WrongOrganisationKey):
        await lifecycle.revoke(
            db,
            who="Lina",
            signing_key=OrganisationKeys.generate().signing,
            org_public=org.signing.public_key,
            today=TODAY,
            min_serial=0,
        )
    assert await opens(db, parts[0], bad_keys.encryption)
