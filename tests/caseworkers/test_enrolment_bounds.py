"""Bounds on enrolment claims: a flood of ``/enroll`` — the same key again and again, one key
pasted into many chats, fresh keys from many chats — keeps the claims table and the pending
listing bounded, and the real caseworker's claim still approves with its code."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.services import caseworkers as service
from crypto import verify_enrolment_claim
from crypto.keys import CaseworkerKeys, OrganisationKeys
from handlers.caseworker_commands import EnrolmentLimit
from storage.engine import Database
from storage.models import Caseworker, CaseworkerStatus, EnrolmentClaim

from .conftest import BOT_KEY, TODAY, approve_enrolment, enrolled, new_chat_id, org

__all__ = ["org"]  # a fixture


async def _count(db: Database, column: object) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count(column))) or 0)  # type: ignore[arg-type]


async def _claim_chats(db: Database, caseworker_id: int) -> list[int]:
    async with db.sessionmaker() as session:
        stored = await session.scalars(
            select(EnrolmentClaim.claim).where(EnrolmentClaim.caseworker_id == caseworker_id)
        )
        return [verify_enrolment_claim(c, BOT_KEY.public_key).chat_id for c in stored]


async def test_the_same_key_sent_again_from_one_chat_replaces_its_claim(
    db: Database, org: OrganisationKeys
) -> None:
    chat_id = new_chat_id()
    keys = CaseworkerKeys.generate()
    earlier = [(await enrolled(db, "Nour", chat_id=chat_id, keys=keys))[0] for _ in range(5)]
    latest, _ = await enrolled(db, "Nour", chat_id=chat_id, keys=keys)

    assert await _claim_chats(db, latest.caseworker_id) == [chat_id]
    with pytest.raises(service.ConfirmationRefused, match="confirms no /enroll"):
        await approve_enrolment(db, org, earlier[-1])
    approval = await approve_enrolment(db, org, latest)
    assert approval.caseworker_id == latest.caseworker_id


async def test_one_chat_holds_a_bounded_number_of_claims(db: Database) -> None:
    chat_id = new_chat_id()
    for index in range(service.MAX_CLAIMS_PER_CHAT):
        await enrolled(db, f"Key {index}", chat_id=chat_id)
    claims = await _count(db, EnrolmentClaim.id)

    with pytest.raises(service.EnrolmentCapped) as refused:
        await enrolled(db, "One more", chat_id=chat_id)
    # Nor may it add a claim to a key someone else enrolled (a pasted code).
    _, someone_elses = await enrolled(db, "Someone else")
    with pytest.raises(service.EnrolmentCapped) as pasted:
        await enrolled(db, "Someone else", chat_id=chat_id, keys=someone_elses)

    assert refused.value.limit is pasted.value.limit is EnrolmentLimit.CHAT
    assert await _count(db, EnrolmentClaim.id) == claims + 1
    assert await _count(db, Caseworker.id) == service.MAX_CLAIMS_PER_CHAT + 1


async def test_a_key_pasted_into_many_chats_keeps_the_first_chats_claims(
    db: Database, org: OrganisationKeys
) -> None:
    keys = CaseworkerKeys.generate()
    real, _ = await enrolled(db, "Nour", keys=keys)
    strangers = [new_chat_id() for _ in range(service.MAX_CHATS_PER_KEY - 1)]
    for chat_id in strangers:
        await enrolled(db, "Nour", chat_id=chat_id, keys=keys)

    with pytest.raises(service.EnrolmentCapped) as refused:
        await enrolled(db, "Nour", keys=keys)
    # A chat that already claimed the key may still ask for a fresh code.
    again, _ = await enrolled(db, "Nour", chat_id=strangers[0], keys=keys)

    assert refused.value.limit is EnrolmentLimit.KEY
    chats = await _claim_chats(db, real.caseworker_id)
    assert len(chats) == service.MAX_CHATS_PER_KEY == len(set(chats))
    assert again.caseworker_id == real.caseworker_id
    approval = await approve_enrolment(db, org, real)
    assert approval.other_chats == service.MAX_CHATS_PER_KEY - 1


async def test_pending_enrolments_are_bounded_across_all_chats(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "MAX_PENDING_ENROLMENTS", 4)
    first_chat = new_chat_id()
    first, keys = await enrolled(db, "Nour", chat_id=first_chat)
    for index in range(3):
        await enrolled(db, f"Fresh {index}")

    with pytest.raises(service.EnrolmentCapped) as refused:
        await enrolled(db, "One too many")
    refreshed, _ = await enrolled(db, "Nour", chat_id=first_chat, keys=keys)

    assert refused.value.limit is EnrolmentLimit.FULL
    assert await _count(db, EnrolmentClaim.id) == 4
    assert await _count(db, Caseworker.id) == 4
    assert refreshed.caseworker_id == first.caseworker_id


async def test_unconfirmed_enrolments_expire_when_their_code_can_no_longer_approve(
    db: Database, org: OrganisationKeys
) -> None:
    long_ago = TODAY - service.CLAIM_VALIDITY - dt.timedelta(days=1)
    stale, _ = await enrolled(db, "Stale", today=long_ago)
    still_valid, _ = await enrolled(db, "Recent", today=TODAY - service.CLAIM_VALIDITY)
    refreshed, keys = await enrolled(db, "Refreshed", today=long_ago)
    await enrolled(db, "Refreshed", keys=keys)  # another chat, today: the row stays
    verified, _ = await enrolled(db, "Verified", today=long_ago)
    await approve_enrolment(db, org, verified, today=long_ago)

    removed = await service.expire_enrolments(db, today=TODAY)

    assert removed == service.ExpiredEnrolments(claims=2, caseworkers=1)
    async with db.sessionmaker() as session:
        rows = {r.label: r.status for r in await session.scalars(select(Caseworker))}
    assert rows == {
        "Recent": CaseworkerStatus.PENDING,
        "Refreshed": CaseworkerStatus.PENDING,
        "Verified": CaseworkerStatus.VERIFIED,
    }
    assert len(await _claim_chats(db, refreshed.caseworker_id)) == 1
    assert await _claim_chats(db, stale.caseworker_id) == []
    assert len(await _claim_chats(db, still_valid.caseworker_id)) == 1
    assert await service.expire_enrolments(db, today=TODAY) == service.ExpiredEnrolments(0, 0)


async def test_enrolments_at_once_cannot_pass_the_bound_together(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "MAX_PENDING_ENROLMENTS", 3)
    for index in range(2):
        await enrolled(db, f"Before {index}")
    add_pending = service._add_pending

    async def slow_add(*args: Any, **kwargs: Any) -> Any:
        # Each enrolment has checked the bounds; unless they are serialised, all of them have.
        await asyncio.sleep(0.2)
        return await add_pending(*args, **kwargs)

    monkeypatch.setattr(service, "_add_pending", slow_add)

    results = await asyncio.gather(
        *(enrolled(db, f"At once {index}") for index in range(6)), return_exceptions=True
    )

    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(
        isinstance(r, service.EnrolmentCapped) for r in results if isinstance(r, BaseException)
    )
    assert await _count(db, EnrolmentClaim.id) == 3
