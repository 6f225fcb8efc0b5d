"""Enrolment as the service records it: pending rows, rotations, and refusals that protect I4."""

from __future__ import annotations

import pytest

from bot.services import caseworkers as service
from crypto import EnrolmentCodeError, caseworker_fingerprint, encode_enrolment_code
from crypto.keys import CaseworkerKeys
from storage.engine import Database
from storage.models import Caseworker, CaseworkerStatus

from .conftest import TODAY, enrolled, new_chat_id


async def _row(db: Database, caseworker_id: int) -> Caseworker:
    async with db.sessionmaker() as session:
        row = await session.get(Caseworker, caseworker_id)
    assert row is not None
    return row


async def test_enrolment_records_pending_row_for_the_senders_chat(db: Database) -> None:
    chat_id = new_chat_id()
    enrolment, keys = await enrolled(db, "Nour", chat_id=chat_id)
    row = await _row(db, enrolment.caseworker_id)
    assert enrolment.fingerprint == caseworker_fingerprint(keys.public)
    assert row.status is CaseworkerStatus.PENDING
    assert row.delivery_chat_id == chat_id
    assert row.certificate is None
    assert row.encryption_public_key == keys.public.encryption.raw
    assert row.signing_public_key == keys.public.signing.raw


async def test_same_code_sent_again_answers_the_same_row(db: Database) -> None:
    chat_id = new_chat_id()
    keys = CaseworkerKeys.generate()
    code = encode_enrolment_code("Nour", keys.public)
    first = await service.enroll(db, code=code, delivery_chat_id=chat_id, today=TODAY)
    again = await service.enroll(db, code=code, delivery_chat_id=chat_id, today=TODAY)
    assert again.caseworker_id == first.caseworker_id
    assert again.already_enrolled
    assert not first.already_enrolled


async def test_new_key_under_the_same_label_is_a_pending_rotation(db: Database) -> None:
    chat_id = new_chat_id()
    first, _ = await enrolled(db, "Nour", chat_id=chat_id)
    second, _ = await enrolled(db, "Nour", chat_id=chat_id)
    third, _ = await enrolled(db, "Nour", chat_id=chat_id)
    assert second.replaces_id == first.caseworker_id
    assert third.replaces_id == second.caseworker_id
    assert [first.label, second.label, third.label] == ["Nour", "Nour/2", "Nour/3"]
    assert (await _row(db, second.caseworker_id)).status is CaseworkerStatus.PENDING


async def test_label_enrolled_from_another_chat_is_refused(db: Database) -> None:
    await enrolled(db, "Nour")
    with pytest.raises(service.EnrolmentRefused, match="another chat"):
        await enrolled(db, "Nour")


async def test_key_enrolled_from_another_chat_is_refused(db: Database) -> None:
    keys = CaseworkerKeys.generate()
    code = encode_enrolment_code("Nour", keys.public)
    await service.enroll(db, code=code, delivery_chat_id=new_chat_id(), today=TODAY)
    with pytest.raises(service.EnrolmentRefused, match="already enrolled"):
        await service.enroll(db, code=code, delivery_chat_id=new_chat_id(), today=TODAY)


async def test_truncated_code_is_refused_before_anything_is_stored(db: Database) -> None:
    code = encode_enrolment_code("Nour", CaseworkerKeys.generate().public)
    with pytest.raises(EnrolmentCodeError):
        await service.enroll(db, code=code[:-3], delivery_chat_id=new_chat_id(), today=TODAY)
    async with db.sessionmaker() as session:
        assert (await session.get(Caseworker, 1)) is None


async def test_pending_keys_from_one_chat_are_capped(db: Database) -> None:
    chat_id = new_chat_id()
    for index in range(service.MAX_PENDING_PER_CHAT):
        await enrolled(db, f"Key {index}", chat_id=chat_id)
    with pytest.raises(service.EnrolmentRefused, match="too many"):
        await enrolled(db, "One more", chat_id=chat_id)
