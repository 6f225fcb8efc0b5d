"""A caseworker's own cases: listed and closed only by the verified caseworker assigned to them."""

from __future__ import annotations

import pytest

from bot.services import caseworkers as service
from crypto.keys import OrganisationKeys
from storage.engine import Database
from storage.models import Report, ReportStatus
from tests.storage.helpers import store_opaque_report

from .conftest import TODAY, approved, enrolled, new_chat_id


async def test_cases_lists_only_the_caseworkers_own_open_cases(
    db: Database, org: OrganisationKeys
) -> None:
    chat_id = new_chat_id()
    mine_id, _ = await approved(db, org, "Mine", chat_id=chat_id)
    other_id, _ = await approved(db, org, "Other")
    mine = await store_opaque_report(db, caseworker_id=mine_id)
    await store_opaque_report(db, caseworker_id=other_id)
    lines = await service.open_cases(
        db, chat_id=chat_id, org_public=org.signing.public_key, today=TODAY, min_serial=0
    )
    assert lines == [service.CaseLine(mine.case_reference, ReportStatus.ASSIGNED)]


async def test_cases_answers_none_to_a_pending_caseworker(
    db: Database, org: OrganisationKeys
) -> None:
    chat_id = new_chat_id()
    await enrolled(db, "Waiting", chat_id=chat_id)
    assert (
        await service.open_cases(
            db, chat_id=chat_id, org_public=org.signing.public_key, today=TODAY, min_serial=0
        )
        is None
    )


async def test_close_sets_status_and_day_for_the_assigned_caseworker(
    db: Database, org: OrganisationKeys
) -> None:
    chat_id = new_chat_id()
    mine_id, _ = await approved(db, org, "Mine", chat_id=chat_id)
    stored = await store_opaque_report(db, caseworker_id=mine_id)
    typed = stored.case_reference.lower().replace("-", " ")
    closed = await service.close_case(
        db,
        chat_id=chat_id,
        case_reference=typed,
        org_public=org.signing.public_key,
        today=TODAY,
        min_serial=0,
    )
    assert closed == stored.case_reference
    async with db.sessionmaker() as session:
        report = await session.get(Report, stored.report_id)
    assert report is not None
    assert report.status is ReportStatus.CLOSED
    assert report.closed_day == TODAY
    after = await service.open_cases(
        db, chat_id=chat_id, org_public=org.signing.public_key, today=TODAY, min_serial=0
    )
    assert after == []


async def test_close_refuses_someone_elses_case_like_a_missing_one(
    db: Database, org: OrganisationKeys
) -> None:
    chat_id = new_chat_id()
    await approved(db, org, "Mine", chat_id=chat_id)
    other_id, _ = await approved(db, org, "Other")
    theirs = await store_opaque_report(db, caseworker_id=other_id)
    with pytest.raises(service.UnknownCase) as not_mine:
        await service.close_case(
            db,
            chat_id=chat_id,
            case_reference=theirs.case_reference,
            org_public=org.signing.public_key,
            today=TODAY,
            min_serial=0,
        )
    with pytest.raises(service.UnknownCase) as missing:
        await service.close_case(
            db,
            chat_id=chat_id,
            case_reference="ZZZ-ZZZZ",
            org_public=org.signing.public_key,
            today=TODAY,
            min_serial=0,
        )
    assert str(not_mine.value) == str(missing.value)
    async with db.sessionmaker() as session:
        report = await session.get(Report, theirs.report_id)
    assert report is not None
    assert report.status is ReportStatus.ASSIGNED
