"""Bounds on enrolment claims: a flood of ``/enroll`` — the same key again and again, one key
pasted into many chats, fresh keys from many chats — keeps the claims table and the pending
listing bounded, and the real caseworker's claim still approves with its code. What a flood
does fill, an admin can throw away (``discard_enrolment``, ``discard_all_enrolments``) without
touching a verified or revoked caseworker or a bound chat."""

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
from storage.models import AuditEntry, Caseworker, CaseworkerStatus, EnrolmentClaim

from .conftest import (
    BOT_KEY,
    TODAY,
    approve_enrolment,
    approved,
    enrolled,
    insert_by_hand,
    new_chat_id,
    org,
)

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


async def _audit_counts(db: Database) -> list[tuple[str, dict[str, int]]]:
    async with db.sessionmaker() as session:
        return [(e.event, e.counts) for e in await session.scalars(select(AuditEntry))]


async def _flood(db: Database) -> None:
    """Fresh keys from fake chats, as many to a chat as it may hold, until no place is left."""
    index = 0
    while await _count(db, EnrolmentClaim.id) < service.MAX_PENDING_ENROLMENTS:
        chat_id = new_chat_id()
        for _ in range(service.MAX_CLAIMS_PER_CHAT):
            if await _count(db, EnrolmentClaim.id) < service.MAX_PENDING_ENROLMENTS:
                await enrolled(db, f"Fake {index}", chat_id=chat_id)
                index += 1


async def test_discarding_one_enrolment_removes_its_row_and_every_claim_of_it(
    db: Database, org: OrganisationKeys
) -> None:
    keys = CaseworkerKeys.generate()
    target, _ = await enrolled(db, "Nour", keys=keys)
    await enrolled(db, "Nour", keys=keys)  # the code pasted into a second chat
    other, _ = await enrolled(db, "Other")

    discarded = await service.discard_enrolment(db, who="Nour", today=TODAY)

    assert discarded == service.DiscardedEnrolments(claims=2, caseworkers=1, waiting=1)
    async with db.sessionmaker() as session:
        assert await session.get(Caseworker, target.caseworker_id) is None
    assert len(await _claim_chats(db, other.caseworker_id)) == 1
    assert await _audit_counts(db) == [
        ("caseworker.enrolments_discarded", {"enrolment_claims": 2, "pending_caseworkers": 1})
    ]
    # The label is free again: the caseworker's own /enroll makes a first key, not a rotation.
    again, _ = await enrolled(db, "Nour", keys=keys)
    assert (again.label, again.replaces_id) == ("Nour", None)


async def test_discarding_refuses_a_caseworker_who_is_not_an_enrolment_waiting(
    db: Database, org: OrganisationKeys
) -> None:
    verified, keys = await enrolled(db, "Verified")
    await approve_enrolment(db, org, verified)
    await enrolled(db, "Verified", keys=keys, chat_id=new_chat_id())  # a claim on a verified key
    await insert_by_hand(db, "Revoked", status=CaseworkerStatus.REVOKED, certificate=None)
    await insert_by_hand(db, "Bound", status=CaseworkerStatus.PENDING, certificate=None)
    claims = await _count(db, EnrolmentClaim.id)

    for who in ("Verified", str(verified.caseworker_id), "Revoked", "Bound"):
        with pytest.raises(service.NotAnEnrolment, match="not an enrolment waiting"):
            await service.discard_enrolment(db, who=who, today=TODAY)
    with pytest.raises(service.UnknownCaseworker):
        await service.discard_enrolment(db, who="Nobody", today=TODAY)

    assert await _count(db, Caseworker.id) == 3
    assert await _count(db, EnrolmentClaim.id) == claims == 1
    assert await _audit_counts(db) == [("caseworker.approved", {"caseworkers": 1, "days": 30})]


async def test_discarding_every_enrolment_frees_the_places_a_flood_took(
    db: Database, org: OrganisationKeys
) -> None:
    amal, amal_keys = await enrolled(db, "Amal")
    await approve_enrolment(db, org, amal)
    renewal, _ = await enrolled(db, "Amal", keys=amal_keys, chat_id=new_chat_id())
    await _flood(db)
    with pytest.raises(service.EnrolmentCapped) as refused:
        await enrolled(db, "Salma")
    assert refused.value.limit is EnrolmentLimit.FULL
    flood_rows = await _count(db, Caseworker.id) - 1

    discarded = await service.discard_all_enrolments(db, today=TODAY)

    # Amal's row, certificate and chat stay, and so does the claim made of her verified key.
    flood_claims = service.MAX_PENDING_ENROLMENTS - 1
    assert discarded == service.DiscardedEnrolments(
        claims=flood_claims, caseworkers=flood_rows, waiting=1
    )
    async with db.sessionmaker() as session:
        [recipient] = await service.eligible_caseworkers(
            session, org.signing.public_key, TODAY, min_serial=0
        )
        rows = list(await session.scalars(select(Caseworker)))
    assert [(r.label, r.status) for r in rows] == [("Amal", CaseworkerStatus.VERIFIED)]
    assert recipient.caseworker_id == amal.caseworker_id
    assert len(await _claim_chats(db, renewal.caseworker_id)) == 1
    assert await _audit_counts(db) == [
        ("caseworker.approved", {"caseworkers": 1, "days": 30}),
        (
            "caseworker.enrolments_discarded",
            {"enrolment_claims": flood_claims, "pending_caseworkers": flood_rows},
        ),
    ]
    salma, _ = await enrolled(db, "Salma")
    approval = await approve_enrolment(db, org, salma)
    assert approval.caseworker_id == salma.caseworker_id


async def test_discarding_every_enrolment_takes_a_pending_next_key_not_the_verified_one(
    db: Database, org: OrganisationKeys
) -> None:
    chat_id = new_chat_id()
    await approved(db, org, "Amal", chat_id=chat_id)
    rotation, _ = await enrolled(db, "Amal", chat_id=chat_id)

    discarded = await service.discard_all_enrolments(db, today=TODAY)

    assert rotation.label == "Amal/2"
    assert discarded == service.DiscardedEnrolments(claims=1, caseworkers=1, waiting=0)
    async with db.sessionmaker() as session:
        rows = [(r.label, r.status) for r in await session.scalars(select(Caseworker))]
    assert rows == [("Amal", CaseworkerStatus.VERIFIED)]
