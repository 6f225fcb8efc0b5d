"""Requeuing failed deliveries (``bot.services.redelivery``) on SQLite and PostgreSQL, and
``sanad admin redeliver`` between two runs of the real forward job against the local server.

Rows are failed the way the forward job fails them (claimed, then released with a policy that
gives up), so what is requeued is what a real run leaves behind.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.local_api import LocalBotApi
from bot.services.caseworkers import UnknownCase
from bot.services.redelivery import Redelivery, redeliver_failed
from bot.services.sealed_files import delivery_caption
from crypto import open_sealed_file
from crypto.keys import OrganisationKeys
from storage import outbox
from storage.engine import Database
from storage.models import AuditEntry, DeliveryKind, DeliveryStatus, OutboxEntry
from storage.outbox import RetryPolicy
from tests.storage.conftest import db, pg_schema, sqlite_path
from tests.support.processes import sanad

from .conftest import (
    TODAY,
    EnrolledCaseworker,
    QueuedReport,
    caseworker_chat,
    config_text,
    enrol_caseworker,
    outbox_rows,
    queue_report,
    revoke_in_database,
)
from .test_forward import FAST_DELIVERY, bot_application, documents, drain, fast_forwarder

# The parametrised database fixture (SQLite and PostgreSQL) and what it needs.
__all__ = ["db", "pg_schema", "sqlite_path"]

LEASE = dt.timedelta(minutes=10)


def now() -> dt.datetime:
    """The real time: the fixtures queue reports due a second before it."""
    return dt.datetime.now(dt.UTC)


async def fail_due(db: Database, error_class: str) -> int:
    """Claim every due row and give it up as the forward job does a refusal; how many."""
    worker = outbox.new_worker_token()
    claimed = await outbox.claim_batch(db, worker=worker, now=now(), limit=100, lease=LEASE)
    for delivery in claimed:
        status = await outbox.release(
            db,
            delivery.id,
            worker=worker,
            now=now(),
            error_class=error_class,
            policy=RetryPolicy(max_attempts=1),
        )
        assert status is DeliveryStatus.FAILED
    return len(claimed)


async def failed_report(
    db: Database, org: OrganisationKeys, caseworker: EnrolledCaseworker, error_class: str
) -> QueuedReport:
    queued = await queue_report(db, org, caseworker)
    assert await fail_due(db, error_class) == 1
    return queued


async def redeliver(db: Database, org: OrganisationKeys, **which: str) -> Redelivery:
    return await redeliver_failed(
        db, org_public=org.signing.public_key, today=TODAY, now=now(), **which
    )


async def queue_again(
    session: AsyncSession,
    caseworker: EnrolledCaseworker,
    report: QueuedReport,
    not_before: dt.datetime,
) -> None:
    """Queue the report's file to the caseworker afresh, in the caller's transaction, as a
    reassignment back to them does."""
    await outbox.enqueue(
        session,
        kind=DeliveryKind.REPORT,
        caseworker_id=caseworker.id,
        report_id=report.report_id,
        sequence=0,
        not_before=not_before,
    )


def by_report(rows: list[OutboxEntry]) -> dict[bytes, OutboxEntry]:
    return {row.report_id: row for row in rows}


async def test_every_failed_delivery_goes_back_pending_with_fresh_attempts_and_is_claimable(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker = await enrol_caseworker(db, org, chat_id=7001)
    blocked = await failed_report(db, org, caseworker, "Forbidden")
    network = await failed_report(db, org, caseworker, "NetworkError")

    done = await redeliver(db, org)

    assert done == Redelivery(requeued=2, not_eligible=0, already_delivered=0)
    rows = await outbox_rows(db)
    assert {(r.status, r.attempts, r.last_error, r.claimed_by) for r in rows} == {
        (DeliveryStatus.PENDING, 0, None, None)
    }
    # I3: due at once, on the 10-minute marks.
    assert all(r.not_before.replace(tzinfo=dt.UTC) <= now() for r in rows)
    assert all(r.not_before.minute % 10 == 0 and r.not_before.second == 0 for r in rows)
    claimed = await outbox.claim_batch(
        db, worker="next-run", now=now(), limit=10, lease=LEASE, schedule=outbox.COARSE
    )
    assert {d.report_id for d in claimed} == {blocked.report_id, network.report_id}
    assert all(d.attempts == 0 for d in claimed)


async def test_a_reason_or_a_case_narrows_what_goes_back(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker = await enrol_caseworker(db, org, chat_id=7002)
    blocked = await failed_report(db, org, caseworker, "Forbidden")
    too_large = await failed_report(db, org, caseworker, "UploadTooLarge")
    other = await failed_report(db, org, caseworker, "UploadTooLarge")

    assert (await redeliver(db, org, error_class="Forbidden")).requeued == 1
    rows = by_report(await outbox_rows(db))
    assert rows[blocked.report_id].status is DeliveryStatus.PENDING
    assert rows[too_large.report_id].status is DeliveryStatus.FAILED

    # Any accepted spelling of the reference, as the desk and `reassign` take it.
    assert (await redeliver(db, org, case_reference=too_large.case_reference.lower())).requeued == 1
    rows = by_report(await outbox_rows(db))
    assert rows[too_large.report_id].status is DeliveryStatus.PENDING
    assert rows[other.report_id].status is DeliveryStatus.FAILED

    with pytest.raises(UnknownCase):
        await redeliver(db, org, case_reference="ZZZ-ZZZZ")


async def test_a_caseworker_who_may_not_receive_keeps_their_failed_rows(
    db: Database, org: OrganisationKeys
) -> None:
    revoked = await enrol_caseworker(db, org, chat_id=7003)
    expired = await enrol_caseworker(db, org, chat_id=7004, expires=TODAY - dt.timedelta(days=1))
    fine = await enrol_caseworker(db, org, chat_id=7005)
    for caseworker in (revoked, expired, fine):
        await failed_report(db, org, caseworker, "Forbidden")
    await revoke_in_database(db, revoked.id)

    done = await redeliver(db, org)

    assert done == Redelivery(requeued=1, not_eligible=2, already_delivered=0)
    statuses = {row.caseworker_id: row.status for row in await outbox_rows(db)}
    assert statuses == {
        revoked.id: DeliveryStatus.FAILED,
        expired.id: DeliveryStatus.FAILED,
        fine.id: DeliveryStatus.PENDING,
    }


async def test_a_file_the_caseworker_has_or_will_get_is_never_queued_again(
    db: Database, org: OrganisationKeys
) -> None:
    caseworker = await enrol_caseworker(db, org, chat_id=7006)
    delivered = await failed_report(db, org, caseworker, "Forbidden")
    twice_failed = await failed_report(db, org, caseworker, "Forbidden")
    async with db.sessionmaker() as session, session.begin():
        # As a reassignment back to them leaves it: the same file queued afresh, then sent
        # (or failed again).
        for report in (delivered, twice_failed):
            await queue_again(session, caseworker, report, now() - dt.timedelta(minutes=20))
    worker = "run"
    claimed = await outbox.claim_batch(db, worker=worker, now=now(), limit=10, lease=LEASE)
    for delivery in claimed:
        if delivery.report_id == delivered.report_id:
            assert await outbox.mark_sent(db, delivery.id, worker=worker, now=now())
        else:
            await outbox.release(
                db,
                delivery.id,
                worker=worker,
                now=now(),
                error_class="Forbidden",
                policy=RetryPolicy(max_attempts=1),
            )

    done = await redeliver(db, org)

    assert done == Redelivery(requeued=1, not_eligible=0, already_delivered=2)
    rows = await outbox_rows(db)
    pending = [r for r in rows if r.status is DeliveryStatus.PENDING]
    assert [r.report_id for r in pending] == [twice_failed.report_id]
    # A second run finds that file on its way and leaves the rest.
    assert await redeliver(db, org) == Redelivery(0, 0, 2)


async def test_each_run_is_audited_with_counts_only(db: Database, org: OrganisationKeys) -> None:
    caseworker = await enrol_caseworker(db, org, chat_id=7007)
    await failed_report(db, org, caseworker, "BadRequest")
    await redeliver(db, org, error_class="BadRequest")

    async with db.sessionmaker() as session, session.begin():
        [entry] = (await session.scalars(select(AuditEntry))).all()
    assert entry.event == "delivery.requeued"
    assert entry.actor_key_id is None
    assert entry.counts == {"requeued": 1, "not_eligible": 0, "already_delivered": 0}


async def test_a_blocked_caseworker_who_unblocks_gets_the_file_once_after_redeliver(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        await caseworker_chat(api, 5101)
        chat = api.chat(5101)
        await chat.block()
        caseworker = await enrol_caseworker(db, org, chat_id=5101)
        report = await queue_report(db, org, caseworker)
        forwarder = fast_forwarder(application, runtime)
        await forwarder.run()
        [row] = await outbox_rows(db)
        assert (row.status, row.last_error) == (DeliveryStatus.FAILED, "Forbidden")

        await chat.unblock()
        await forwarder.run()
        assert documents(chat) == []  # failed stays failed until an admin queues it again

        config = tmp_path / "config.toml"
        config.write_text(
            config_text(
                api_url=api.url,
                database_url=str(runtime.config.database.url),
                org=org,
                state_dir=runtime.config.server.state_dir,
                delivery=FAST_DELIVERY,
            )
        )
        result = await sanad("admin", "redeliver", "--all", "--config", config)
        assert result.stdout.startswith("requeued 1 failed delivery(ies)")

        await drain(forwarder, db)
        await forwarder.run()  # a further run finds nothing more to send

    [message] = documents(chat)
    assert message.caption == delivery_caption(report.case_reference, 0)
    opened = open_sealed_file(
        chat.download(message), caseworker.keys.encryption, org.signing.public_key
    )
    assert opened.body.answer("incident.description") == report.canary
    [row] = await outbox_rows(db)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 0)
