"""A reporter's addition and an admin's reassignment, key rotation or revocation touching the
same case, at once (PostgreSQL).

Under READ COMMITTED each could read the case before the other commits: the addition seals to
the old caseworker while the reassignment moves only the bodies it saw, and the new caseworker
never gets the addendum (I8); or it seals to a caseworker whose wraps a revocation has just
deleted. Both lock the case's row before reading it, so one waits for the other. To stop one
transaction halfway, the test holds, from a transaction of its own, a row the other will need
next; the services run unchanged. SQLite has one writer at a time, and the other tests of
additions, reassignments, rotations and revocations run there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Select, select

from bot.services import caseworkers
from bot.services import key_lifecycle as lifecycle
from handlers.draft import Draft
from storage.engine import Database
from storage.models import Caseworker, OutboxEntry, Wrap
from tests.caseworkers.conftest import approve_enrolment, approved, enrolled
from tests.storage.conftest import pg_db
from tests.support.admin import as_admin
from tests.support.locks import FINISHES_WITHIN, STILL_WAITING, until_blocked_by

from .conftest import CASEWORKER_CHAT, NOW, TODAY, Case, Deployment, deployed

__all__ = ["pg_db"]

pytestmark = pytest.mark.postgres

ADDITION = "They came to my workplace this morning."


@pytest.fixture
async def world(pg_db: Database, tmp_path: Path) -> AsyncIterator[Deployment]:
    async with deployed(pg_db, tmp_path / "state") as built:
        yield built


async def reassign(world: Deployment, case: Case, to: int) -> None:
    await caseworkers.reassign(
        world.db,
        case_reference=case.case_reference,
        to=str(to),
        **as_admin(world.org, today=TODAY, now=NOW),
    )


async def add(world: Deployment, case: Case) -> int:
    """The reporter's addition through ``/status``: look the receipt up, add to the case."""
    service = world.service()
    view = await service.look_up(case.receipt)
    assert view is not None
    return await service.add_information(view.access, Draft(what_happened=ADDITION))


async def addendum_holders(
    world: Deployment, case: Case, sequence: int
) -> tuple[set[bytes], set[int]]:
    """Who can open the addendum (its wraps' key ids) and whom it is queued to."""
    async with world.db.sessionmaker() as session:
        wraps = await session.scalars(
            select(Wrap.recipient_key_id).where(
                Wrap.report_id == case.report_id, Wrap.sequence == sequence
            )
        )
        queued = await session.scalars(
            select(OutboxEntry.caseworker_id).where(
                OutboxEntry.report_id == case.report_id, OutboxEntry.sequence == sequence
            )
        )
        return set(wraps), set(queued)


async def add_during(
    world: Deployment, case: Case, admin: Coroutine[Any, Any, object], stop_at: Select[Any]
) -> int:
    """Run ``admin`` until it waits for the rows ``stop_at`` selects (held by a transaction of
    the test, halfway through the admin's transaction), then start the reporter's addition to
    ``case`` and check that it waits for the admin's commit; return the addendum's sequence."""
    async with world.db.sessionmaker() as held, held.begin():
        await held.execute(stop_at.with_for_update())
        admin_task = asyncio.create_task(admin)
        await until_blocked_by(world.db, held)
        adding = asyncio.create_task(add(world, case))
        await asyncio.sleep(STILL_WAITING)
        assert not adding.done(), "the addition went ahead of the admin's transaction"
    await asyncio.wait_for(admin_task, FINISHES_WITHIN)
    return await asyncio.wait_for(adding, FINISHES_WITHIN)


def old_wrap(world: Deployment, case: Case) -> Select[Any]:
    """The report's wrap for the case's first caseworker: deleted once the case is read."""
    return select(Wrap).where(
        Wrap.report_id == case.report_id,
        Wrap.recipient_key_id == world.caseworker.public.encryption.key_id,
    )


async def test_an_addition_during_a_reassignment_goes_to_the_new_caseworker(
    world: Deployment,
) -> None:
    case = await world.submit()
    nour, nour_keys = await approved(world.db, world.org, "nour", chat_id=7_000_101)

    sequence = await add_during(world, case, reassign(world, case, nour), old_wrap(world, case))

    wraps, queued = await addendum_holders(world, case, sequence)
    assert wraps == {world.org.recovery.public_key.key_id, nour_keys.public.encryption.key_id}
    assert queued == {nour}


async def test_an_addition_during_a_key_rotation_goes_to_the_new_key(world: Deployment) -> None:
    case = await world.submit()
    rotation, new_keys = await enrolled(world.db, "amina", chat_id=CASEWORKER_CHAT)
    await approve_enrolment(world.db, world.org, rotation)
    org = world.org
    rewrap = lifecycle.rewrap_rotated(
        world.db, who=str(rotation.caseworker_id), **as_admin(org, today=TODAY, now=NOW)
    )

    sequence = await add_during(world, case, rewrap, old_wrap(world, case))

    wraps, queued = await addendum_holders(world, case, sequence)
    assert wraps == {org.recovery.public_key.key_id, new_keys.public.encryption.key_id}
    assert queued == {rotation.caseworker_id}


async def test_an_addition_during_a_revocation_is_not_sealed_to_the_revoked(
    world: Deployment,
) -> None:
    case = await world.submit()
    org = world.org
    revoke = lifecycle.revoke(
        world.db,
        who=str(world.caseworker_id),
        signing_key=org.signing,
        org_public=org.signing.public_key,
        today=TODAY,
        min_serial=0,
    )
    # The report's pending delivery: marked failed after the caseworker's wraps are deleted.
    pending = select(OutboxEntry).where(OutboxEntry.report_id == case.report_id)

    sequence = await add_during(world, case, revoke, pending)

    wraps, queued = await addendum_holders(world, case, sequence)
    assert wraps == {org.recovery.public_key.key_id}
    assert queued == set()


async def test_a_reassignment_during_an_addition_moves_the_addendum_too(
    world: Deployment,
) -> None:
    case = await world.submit()
    nour, nour_keys = await approved(world.db, world.org, "nour", chat_id=7_000_102)

    async with world.db.sessionmaker() as held, held.begin():
        # The old caseworker's row: the addition, its addendum stored and its case's row
        # locked, stops at queuing the delivery that refers to it, uncommitted.
        await held.execute(
            select(Caseworker).where(Caseworker.id == world.caseworker_id).with_for_update()
        )
        adding = asyncio.create_task(add(world, case))
        await until_blocked_by(world.db, held)
        reassigning = asyncio.create_task(reassign(world, case, nour))
        await asyncio.sleep(STILL_WAITING)
        assert not reassigning.done(), "the reassignment went ahead of the addition in progress"
    sequence = await asyncio.wait_for(adding, FINISHES_WITHIN)
    await asyncio.wait_for(reassigning, FINISHES_WITHIN)

    wraps, queued = await addendum_holders(world, case, sequence)
    assert wraps == {world.org.recovery.public_key.key_id, nour_keys.public.encryption.key_id}
    assert queued == {nour}
