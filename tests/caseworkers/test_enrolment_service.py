"""Enrolment as the service records it: pending rows with bot-signed claims, rotations, and
refusals that protect I4 and I9."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import caseworkers as service
from crypto import (
    EnrolmentCodeError,
    caseworker_fingerprint,
    encode_enrolment_code,
    verify_enrolment_claim,
)
from crypto.keys import CaseworkerKeys, OrganisationKeys
from storage.engine import Database
from storage.models import Caseworker, CaseworkerStatus, EnrolmentClaim

from .conftest import BOT_KEY, TODAY, approve_enrolment, code_of, enrolled, new_chat_id, org

__all__ = ["org"]  # a fixture


async def _claims(db: Database, caseworker_id: int) -> list[bytes]:
    async with db.sessionmaker() as session:
        return list(
            await session.scalars(
                select(EnrolmentClaim.claim).where(EnrolmentClaim.caseworker_id == caseworker_id)
            )
        )


async def _row(db: Database, caseworker_id: int) -> Caseworker:
    async with db.sessionmaker() as session:
        row = await session.get(Caseworker, caseworker_id)
    assert row is not None
    return row


async def test_enrolment_records_a_pending_row_bound_to_no_chat_and_a_signed_claim(
    db: Database,
) -> None:
    chat_id = new_chat_id()
    enrolment, keys = await enrolled(db, "Nour", chat_id=chat_id)
    row = await _row(db, enrolment.caseworker_id)
    assert enrolment.fingerprint == caseworker_fingerprint(keys.public)
    assert row.status is CaseworkerStatus.PENDING
    assert row.delivery_chat_id is None  # only approval binds a chat (I9)
    assert row.certificate is None
    assert row.encryption_public_key == keys.public.encryption.raw
    assert row.signing_public_key == keys.public.signing.raw
    [stored] = await _claims(db, enrolment.caseworker_id)
    claim = verify_enrolment_claim(stored, BOT_KEY.public_key)
    assert (claim.chat_id, claim.keys) == (chat_id, keys.public)
    assert claim.confirmed_by(code_of(enrolment))
    assert enrolment.confirmation_code == f"{code_of(enrolment)[:4]} {code_of(enrolment)[4:]}"


async def test_same_code_sent_again_gets_a_new_code_in_place_of_the_old(db: Database) -> None:
    chat_id = new_chat_id()
    keys = CaseworkerKeys.generate()
    first, _ = await enrolled(db, "Nour", chat_id=chat_id, keys=keys)
    again, _ = await enrolled(db, "Nour", chat_id=chat_id, keys=keys)
    assert again.caseworker_id == first.caseworker_id
    assert again.confirmation_code != first.confirmation_code
    [stored] = await _claims(db, first.caseworker_id)
    assert verify_enrolment_claim(stored, BOT_KEY.public_key).confirmed_by(code_of(again))


async def test_new_key_under_the_same_label_is_a_pending_rotation(db: Database) -> None:
    chat_id = new_chat_id()
    first, _ = await enrolled(db, "Nour", chat_id=chat_id)
    second, _ = await enrolled(db, "Nour", chat_id=chat_id)
    third, _ = await enrolled(db, "Nour", chat_id=chat_id)
    assert second.replaces_id == first.caseworker_id
    assert third.replaces_id == second.caseworker_id
    assert [first.label, second.label, third.label] == ["Nour", "Nour/2", "Nour/3"]
    assert (await _row(db, second.caseworker_id)).status is CaseworkerStatus.PENDING


async def test_a_rotation_of_a_label_bound_to_another_chat_is_refused(
    db: Database, org: OrganisationKeys
) -> None:
    first, _ = await enrolled(db, "Nour")
    await approve_enrolment(db, org, first)
    with pytest.raises(service.EnrolmentRefused, match="another chat"):
        await enrolled(db, "Nour")


async def test_a_key_sent_from_another_chat_is_a_second_claim_not_a_silent_refusal(
    db: Database,
) -> None:
    keys = CaseworkerKeys.generate()
    first, _ = await enrolled(db, "Nour", keys=keys)
    pasted, _ = await enrolled(db, "Nour", keys=keys)
    assert pasted.caseworker_id == first.caseworker_id
    assert pasted.confirmation_code != first.confirmation_code
    stored = await _claims(db, first.caseworker_id)
    chats = {verify_enrolment_claim(c, BOT_KEY.public_key).chat_id for c in stored}
    assert len(chats) == 2


async def test_a_key_under_another_label_is_refused(db: Database) -> None:
    keys = CaseworkerKeys.generate()
    await enrolled(db, "Nour", keys=keys)
    with pytest.raises(service.EnrolmentRefused, match="another label"):
        await enrolled(db, "Salma", keys=keys)


async def test_truncated_code_is_refused_before_anything_is_stored(db: Database) -> None:
    code = encode_enrolment_code("Nour", CaseworkerKeys.generate().public)
    with pytest.raises(EnrolmentCodeError):
        await service.enroll(
            db, code=code[:-3], chat_id=new_chat_id(), bot_key=BOT_KEY, today=TODAY
        )
    async with db.sessionmaker() as session:
        assert (await session.get(Caseworker, 1)) is None
