"""On PostgreSQL the admin commands that queue a case's files for a caseworker take turns
(``storage.locks.CASE_DELIVERIES``), so a reassignment committing while ``sanad admin
redeliver`` runs cannot leave one file queued twice to one caseworker (I8), and a revocation
takes the same turn, so a reassignment cannot seal a case to the caseworker it revokes (I4).

Under READ COMMITTED, each would otherwise look for a sent or pending copy of the file before
the other commits its own, or check the target eligible before the revocation commits. The lock
is held here by a transaction of the test's, as a service's transaction holds it; SQLite needs
no lock (one writer at a time), and test_redeliver.py and tests/caseworkers/test_reassign.py run
the same services there.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.services import caseworkers
from bot.services import key_lifecycle as lifecycle
from bot.services.caseworkers import NotEligible
from bot.services.redelivery import Redelivery
from crypto.keys import OrganisationKeys
from storage.engine import Database
from storage.locks import CASE_DELIVERIES
from storage.models import DeliveryStatus, OutboxEntry, Report, Wrap
from tests.storage.conftest import pg_db
from tests.support.admin import as_admin
from tests.support.locks import (
    FINISHES_WITHIN,
    STILL_WAITING,
    holding,
    until_blocked_by,
    wait_for_release,
)

from .conftest import TODAY, enrol_caseworker, outbox_rows, queue_report
from .test_redeliver import failed_report, now, queue_again, redeliver

__all__ = ["pg_db"]

pytestmark = pytest.mark.postgres


def admin(org: OrganisationKeys) -> dict[str, Any]:
    return as_admin(org, today=TODAY, now=now())


async def pending_per_file(db: Database) -> Counter[tuple[int, bytes, int]]:
    return Counter(
        (row.caseworker_id, row.report_id, row.sequence)
        for row in await outbox_rows(db)
        if row.status is DeliveryStatus.PENDING
    )


async def test_redeliver_waits_for_a_transaction_queuing_case_files(
    pg_db: Database, org: OrganisationKeys
) -> None:
    caseworker = await enrol_caseworker(pg_db, org, chat_id=7101)
    report = await failed_report(pg_db, org, caseworker, "Forbidden")

    done = await wait_for_release(pg_db, CASE_DELIVERIES, redeliver(pg_db, org))

    assert done == Redelivery(requeued=1, not_eligible=0, already_delivered=0)
    assert await pending_per_file(pg_db) == {(caseworker.id, report.report_id, 0): 1}


@pytest.mark.parametrize("all_from", [False, True], ids=["one-case", "all-from"])
async def test_reassign_waits_for_a_transaction_queuing_case_files(
    pg_db: Database, org: OrganisationKeys, all_from: bool
) -> None:
    first = await enrol_caseworker(pg_db, org, chat_id=7102)
    second = await enrol_caseworker(pg_db, org, chat_id=7103)
    report = await queue_report(pg_db, org, first)
    work: Coroutine[Any, Any, object] = (
        lifecycle.reassign_all(pg_db, from_who=str(first.id), to=str(second.id), **admin(org))
        if all_from
        else caseworkers.reassign(
            pg_db, case_reference=report.case_reference, to=str(second.id), **admin(org)
        )
    )

    await wait_for_release(pg_db, CASE_DELIVERIES, work)

    assert await pending_per_file(pg_db) == {(second.id, report.report_id, 0): 1}
    async with pg_db.sessionmaker() as session:
        assigned = await session.scalar(
            select(Report.assigned_caseworker_id).where(Report.id == report.report_id)
        )
    assert assigned == second.id


async def test_a_reassignment_committing_during_redeliver_leaves_the_file_queued_once(
    pg_db: Database, org: OrganisationKeys
) -> None:
    caseworker = await enrol_caseworker(pg_db, org, chat_id=7106)
    report = await failed_report(pg_db, org, caseworker, "Forbidden")

    async with holding(pg_db, CASE_DELIVERIES) as reassigning:
        # What a reassignment back to the same caseworker writes: the case's file queued to
        # them afresh, not committed yet when redeliver looks for a pending copy.
        await queue_again(reassigning, caseworker, report, now())
        racing = asyncio.create_task(redeliver(pg_db, org))
        await asyncio.sleep(STILL_WAITING)
    done = await asyncio.wait_for(racing, FINISHES_WITHIN)

    assert done == Redelivery(requeued=0, not_eligible=0, already_delivered=1)
    assert await pending_per_file(pg_db) == {(caseworker.id, report.report_id, 0): 1}


async def test_a_reassignment_to_a_caseworker_being_revoked_leaves_them_nothing(
    pg_db: Database, org: OrganisationKeys
) -> None:
    leaving = await enrol_caseworker(pg_db, org, chat_id=7107)
    staying = await enrol_caseworker(pg_db, org, chat_id=7108)
    theirs = await queue_report(pg_db, org, leaving)
    case = await queue_report(pg_db, org, staying)
    revoke = lifecycle.revoke(
        pg_db,
        who=str(leaving.id),
        signing_key=org.signing,
        org_public=org.signing.public_key,
        today=TODAY,
        min_serial=0,
    )
    reassign = caseworkers.reassign(
        pg_db, case_reference=case.case_reference, to=str(leaving.id), **admin(org)
    )

    async with pg_db.sessionmaker() as held, held.begin():
        # Their pending delivery: the revocation, their wraps deleted, stops at failing it.
        await held.execute(
            select(OutboxEntry).where(OutboxEntry.report_id == theirs.report_id).with_for_update()
        )
        revoking = asyncio.create_task(revoke)
        await until_blocked_by(pg_db, held)
        reassigning = asyncio.create_task(reassign)
        await asyncio.sleep(STILL_WAITING)
    await asyncio.wait_for(revoking, FINISHES_WITHIN)
    refused = await asyncio.wait_for(
        asyncio.gather(reassigning, return_exceptions=True), FINISHES_WITHIN
    )

    async with pg_db.sessionmaker() as session:
        wraps = await session.scalar(
            select(func.count()).where(
                Wrap.recipient_key_id == leaving.keys.public.encryption.key_id
            )
        )
        assigned = await session.scalar(
            select(Report.assigned_caseworker_id).where(Report.id == case.report_id)
        )
    assert wraps == 0
    assert await pending_per_file(pg_db) == {(staying.id, case.report_id, 0): 1}
    # It waited for the revocation and then found the caseworker revoked.
    assert isinstance(refused[0], NotEligible)
    assert assigned == staying.id
