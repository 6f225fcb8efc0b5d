"""I9: the chat that receives a caseworker's files and acts as them is the one the certificate
names, and only the chat whose confirmation code the admin typed is ever bound.

Each attack here succeeded before format v2: the first chat to send a key's enrolment code was
its delivery chat, ``approve`` needed no code, and eligibility read the chat from a column.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.jobs.forward import eligible_recipients
from bot.services import caseworkers as service
from crypto.keys import CaseworkerKeys, OrganisationKeys
from storage.engine import Database
from storage.models import Caseworker, CaseworkerStatus, EnrolmentClaim
from tests.storage.helpers import store_opaque_report

from .conftest import (
    BOT_KEY,
    TODAY,
    approve_enrolment,
    approved,
    code_of,
    enrolled,
    new_chat_id,
)


async def _powers(db: Database, org: OrganisationKeys, chat_id: int) -> list[int]:
    """The caseworker ids ``chat_id`` may act as (what /cases, /close and /reply look up)."""
    async with db.sessionmaker() as session, session.begin():
        found = await service.eligible_caseworkers_for_chat(
            session, chat_id, org.signing.public_key, TODAY, min_serial=0
        )
    return [r.caseworker_id for r in found]


async def _row(db: Database, caseworker_id: int) -> Caseworker:
    async with db.sessionmaker() as session:
        row = await session.get(Caseworker, caseworker_id)
    assert row is not None
    return row


async def test_a_code_pasted_into_another_chat_first_gets_that_chat_no_powers_nor_deliveries(
    db: Database, org: OrganisationKeys
) -> None:
    keys = CaseworkerKeys.generate()
    intruder_chat, caseworker_chat = new_chat_id(), new_chat_id()
    await enrolled(db, "Amal", chat_id=intruder_chat, keys=keys)  # the code, seen and pasted
    real, _ = await enrolled(db, "Amal", chat_id=caseworker_chat, keys=keys)

    await approve_enrolment(db, org, real)  # with the code the caseworker read aloud

    assert await _powers(db, org, intruder_chat) == []
    assert await _powers(db, org, caseworker_chat) == [real.caseworker_id]
    recipients = await eligible_recipients(
        db, {real.caseworker_id}, org_key=org.signing.public_key, today=TODAY, min_serial=0
    )
    assert recipients[real.caseworker_id].chat_id == caseworker_chat
    opened = await service.open_cases(
        db, chat_id=intruder_chat, org_public=org.signing.public_key, today=TODAY, min_serial=0
    )
    assert opened is None


async def test_approve_with_the_intruders_code_binds_the_intruders_chat_only(
    db: Database, org: OrganisationKeys
) -> None:
    # The admin types whichever code they are read: the binding follows the code, not the order.
    keys = CaseworkerKeys.generate()
    first, _ = await enrolled(db, "Amal", keys=keys)
    second_chat = new_chat_id()
    second, _ = await enrolled(db, "Amal", chat_id=second_chat, keys=keys)
    await approve_enrolment(db, org, second)
    assert await _powers(db, org, second_chat) == [first.caseworker_id]


async def test_approve_with_a_wrong_code_refuses_and_signs_nothing(
    db: Database, org: OrganisationKeys
) -> None:
    enrolment, _ = await enrolled(db, "Amal")
    wrong = f"{(int(code_of(enrolment)) + 1) % 10**8:08d}"
    with pytest.raises(service.ConfirmationRefused, match="confirms no /enroll"):
        await service.approve(
            db,
            who="Amal",
            confirmation=wrong,
            signing_key=org.signing,
            org_public=org.signing.public_key,
            bot_public=BOT_KEY.public_key,
            today=TODAY,
        )
    row = await _row(db, enrolment.caseworker_id)
    assert (row.status, row.certificate, row.delivery_chat_id) == (
        CaseworkerStatus.PENDING,
        None,
        None,
    )


async def test_another_caseworkers_code_does_not_approve_this_one(
    db: Database, org: OrganisationKeys
) -> None:
    await enrolled(db, "Amal")
    other, _ = await enrolled(db, "Salma")
    with pytest.raises(service.ConfirmationRefused):
        await service.approve(
            db,
            who="Amal",
            confirmation=code_of(other),
            signing_key=org.signing,
            org_public=org.signing.public_key,
            bot_public=BOT_KEY.public_key,
            today=TODAY,
        )


async def test_a_claim_moved_onto_another_row_is_refused_as_for_other_keys(
    db: Database, org: OrganisationKeys
) -> None:
    target, _ = await enrolled(db, "Amal")
    intruder, _ = await enrolled(db, "Mallory")
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(EnrolmentClaim)
            .where(EnrolmentClaim.caseworker_id == intruder.caseworker_id)
            .values(caseworker_id=target.caseworker_id)
        )
    with pytest.raises(service.ConfirmationRefused, match="other keys"):
        await service.approve(
            db,
            who="Amal",
            confirmation=code_of(intruder),
            signing_key=org.signing,
            org_public=org.signing.public_key,
            bot_public=BOT_KEY.public_key,
            today=TODAY,
        )


async def test_a_claim_edited_to_name_another_chat_binds_nothing(
    db: Database, org: OrganisationKeys
) -> None:
    enrolment, _ = await enrolled(db, "Amal")
    async with db.sessionmaker() as session, session.begin():
        claim = await session.scalar(select(EnrolmentClaim))
        assert claim is not None
        edited = bytearray(claim.claim)
        edited[24] ^= 1  # inside the chat id, under the bot's signature
        claim.claim = bytes(edited)
    with pytest.raises(service.ConfirmationRefused, match="no /enroll"):
        await approve_enrolment(db, org, enrolment)


async def test_a_code_confirms_once(db: Database, org: OrganisationKeys) -> None:
    enrolment, _ = await enrolled(db, "Amal")
    await approve_enrolment(db, org, enrolment)
    async with db.sessionmaker() as session:
        assert (await session.scalars(select(EnrolmentClaim))).all() == []
    with pytest.raises(service.ConfirmationRefused):
        await approve_enrolment(db, org, enrolment)


async def test_a_rewritten_delivery_chat_column_gives_that_chat_no_powers_nor_deliveries(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker_chat, intruder_chat = new_chat_id(), new_chat_id()
    caseworker_id, _ = await approved(db, org, "Amal", chat_id=caseworker_chat)
    stored = await store_opaque_report(db, caseworker_id=caseworker_id)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Caseworker)
            .where(Caseworker.id == caseworker_id)
            .values(delivery_chat_id=intruder_chat)
        )

    assert await _powers(db, org, intruder_chat) == []
    org_public = org.signing.public_key
    opened = await service.open_cases(
        db, chat_id=intruder_chat, org_public=org_public, today=TODAY, min_serial=0
    )
    assert opened is None
    with pytest.raises(service.UnknownCase):
        await service.close_case(
            db,
            chat_id=intruder_chat,
            case_reference=stored.case_reference,
            org_public=org_public,
            today=TODAY,
            min_serial=0,
        )
    recipients = await eligible_recipients(
        db, {caseworker_id}, org_key=org_public, today=TODAY, min_serial=0
    )
    assert recipients[caseworker_id].chat_id == caseworker_chat  # the certificate's chat


async def test_a_confirmation_code_older_than_two_weeks_binds_nothing(
    db: Database, org: OrganisationKeys
) -> None:
    # A code noted down at an old meeting, or a chat taken over since, must not bind now.
    enrolment, _ = await enrolled(db, "Amal")
    late = TODAY + service.CLAIM_VALIDITY + dt.timedelta(days=1)
    with pytest.raises(service.ConfirmationRefused, match="more than 14 days old"):
        await approve_enrolment(db, org, enrolment, today=late)
    row = await _row(db, enrolment.caseworker_id)
    assert (row.status, row.certificate) == (CaseworkerStatus.PENDING, None)
    # The last day it is still good.
    await approve_enrolment(db, org, enrolment, today=TODAY + service.CLAIM_VALIDITY)
