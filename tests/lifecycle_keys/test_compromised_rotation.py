"""Signing key rotation, scheduled and after a compromise (I4, I9).

A scheduled rotation carries every certificate the old key signed over to the new key, with the
chat it names. After a compromise nothing is carried over: whatever the old key signed, a thief
could have signed too, so every caseworker is ineligible until approved again with fingerprint
and a fresh confirmation code; only the revocations move to the new key.
"""

from __future__ import annotations

import pytest

from bot.services import caseworkers
from bot.services import key_lifecycle as lifecycle
from crypto import issue_revocation_list, verify_revocation_list
from crypto.keys import Ed25519SigningKey, OrganisationKeys
from storage.engine import Database
from storage.models import RevocationList
from tests.caseworkers.conftest import approve_enrolment

from .conftest import TODAY, enrolled, new_chat_id


async def _eligible(db: Database, key: Ed25519SigningKey) -> dict[int, int]:
    """Caseworker id → the chat their certificate names, under ``key``."""
    async with db.sessionmaker() as session, session.begin():
        found = await caseworkers.eligible_caseworkers(session, key.public_key, TODAY, min_serial=0)
    return {r.caseworker_id: r.delivery_chat_id for r in found}


async def test_a_scheduled_rotation_keeps_each_certificate_bound_to_its_chat(
    db: Database, org: OrganisationKeys
) -> None:
    chat = new_chat_id()
    enrolment, _ = await enrolled(db, "Amal", chat_id=chat)
    await approve_enrolment(db, org, enrolment)
    new = Ed25519SigningKey.generate()

    await lifecycle.reissue_certificates(
        db,
        signing_key=new,
        org_public=new.public_key,
        previous=org.signing.public_key,
        today=TODAY,
        days=30,
        min_serial=0,
    )

    assert await _eligible(db, new) == {enrolment.caseworker_id: chat}


async def test_a_compromised_rotation_leaves_every_caseworker_ineligible_until_reapproved(
    db: Database, org: OrganisationKeys
) -> None:
    chat = new_chat_id()
    amal, keys = await enrolled(db, "Amal", chat_id=chat)
    await approve_enrolment(db, org, amal)
    tarek, _ = await enrolled(db, "Tarek")
    await approve_enrolment(db, org, tarek)
    revoked = await lifecycle.revoke(
        db,
        who="Tarek",
        signing_key=org.signing,
        org_public=org.signing.public_key,
        today=TODAY,
        min_serial=0,
    )
    new = Ed25519SigningKey.generate()

    serial = await lifecycle.carry_revocations_after_compromise(
        db,
        signing_key=new,
        org_public=new.public_key,
        previous=org.signing.public_key,
        today=TODAY,
        min_serial=revoked.serial,
    )

    assert serial > revoked.serial
    assert await _eligible(db, new) == {}
    async with db.sessionmaker() as session:
        latest = await caseworkers.latest_revocations(session, new.public_key, min_serial=serial)
    assert latest is not None
    assert str(tarek.caseworker_id) in latest.caseworker_ids
    renewal, _ = await enrolled(db, "Amal", chat_id=chat, keys=keys)  # a fresh code
    reorg = OrganisationKeys(new, org.recovery)
    await approve_enrolment(db, reorg, renewal)
    assert await _eligible(db, new) == {amal.caseworker_id: chat}
    with pytest.raises(caseworkers.CaseworkerError, match="revoked"):
        await approve_enrolment(db, reorg, tarek)


async def test_compromise_carries_every_name_any_old_list_held(
    db: Database, org: OrganisationKeys
) -> None:
    # A thief holding the old key could sign a newer list that leaves someone out.
    async with db.sessionmaker() as session, session.begin():
        session.add(
            RevocationList(
                serial=1, signed=issue_revocation_list(org.signing, serial=1, caseworker_ids=["7"])
            )
        )
        session.add(RevocationList(serial=2, signed=issue_revocation_list(org.signing, serial=2)))
    new = Ed25519SigningKey.generate()
    serial = await lifecycle.carry_revocations_after_compromise(
        db,
        signing_key=new,
        org_public=new.public_key,
        previous=org.signing.public_key,
        today=TODAY,
        min_serial=0,
    )
    async with db.sessionmaker() as session:
        row = await session.get(RevocationList, serial)
    assert row is not None
    assert "7" in verify_revocation_list(row.signed, new.public_key, min_serial=0).caseworker_ids
