"""The forward job in process: the real PTB Application (``bot.app``) against the local server."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import tomllib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot
from telegram.ext import Application

from bot.app import build_application
from bot.config import BotToken, Config, parse_config
from bot.jobs import forward as forward_module
from bot.jobs.forward import JOB_NAME, Forwarder, ForwardSettings
from bot.leadership.fence import SINGLE_INSTANCE, Role
from bot.local_api import ChatMessage, Fault, LocalBotApi, UserChat
from bot.runtime import Runtime
from bot.services.delivery import Parcel
from bot.services.sealed_files import delivery_caption, delivery_file_name
from bot.services.status import gather_status
from crypto import NotForThisKey, open_sealed_file, read_sealed_file
from crypto.keys import OrganisationKeys
from storage.engine import Database
from storage.migrate import upgrade_database
from storage.models import CaseworkerStatus, DeliveryStatus
from storage.outbox import RetryPolicy

from ..storage.conftest import postgres_schema
from .conftest import (
    EnrolledCaseworker,
    caseworker_chat,
    certified_state_dir,
    config_text,
    enrol_caseworker,
    outbox_rows,
    queue_report,
)

App = Application[Any, Any, Any, Any, Any, Any]

# Fast enough for tests, slow enough that a run is a batch and not a busy loop.
FAST_DELIVERY = {
    "batch_interval_seconds": 0.2,
    "jitter_seconds": 0.1,
    "backoff_cap_seconds": 0.2,
    "max_attempts": 4,
}


@asynccontextmanager
async def bot_application(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path, **delivery: Any
) -> AsyncIterator[tuple[App, Runtime]]:
    """``bot.app.build_application`` on a fresh SQLite file, initialised (the job not started)."""
    text = config_text(
        api_url=api.url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        org=org,
        state_dir=certified_state_dir(tmp_path / "state", org),
        delivery={**FAST_DELIVERY, **delivery},
    )
    config: Config = parse_config(tomllib.loads(text))
    runtime = Runtime.open(config)
    application = build_application(config, BotToken(api.add_bot()), runtime)
    await upgrade_database(runtime.database)
    try:
        async with application:
            yield application, runtime
    finally:
        await runtime.close()


def fast_forwarder(
    application: App, runtime: Runtime, role: Role = SINGLE_INSTANCE, **overrides: Any
) -> Forwarder:
    """A forwarder on the application's bot with short backoff and send timeouts."""
    settings = replace(
        ForwardSettings.from_config(runtime.config.delivery, lambda: 0),
        send_timeout=0.5,
        lease=dt.timedelta(seconds=30),
        **overrides,
    )
    return Forwarder(
        runtime.database,
        application.bot,
        settings,
        org_key=runtime.config.organisation.signing_public_key,
        identity=runtime.bot,
        role=role,
    )


async def failed_counts(runtime: Runtime) -> dict[str, int]:
    """Failed deliveries by error class, as ``sanad admin status`` shows them."""
    status = await gather_status(runtime.database, runtime.config, dt.datetime.now(dt.UTC))
    return dict(status.failed)


async def reports_queued_for(
    api: LocalBotApi, org: OrganisationKeys, db: Database, *, chat_id: int, count: int
) -> UserChat:
    """A verified caseworker in ``chat_id`` with ``count`` reports queued to them; their chat."""
    await caseworker_chat(api, chat_id)
    caseworker = await enrol_caseworker(db, org, chat_id=chat_id)
    for _ in range(count):
        await queue_report(db, org, caseworker)
    return api.chat(chat_id)


def documents(chat: UserChat) -> list[ChatMessage]:
    return [m for m in chat.bot_messages() if m.document is not None]


async def drain(forwarder: Forwarder, db: Database, *, within: float = 20.0) -> None:
    """Run the forwarder, as the job would, until no delivery is pending."""
    deadline = time.monotonic() + within
    while any(row.status is DeliveryStatus.PENDING for row in await outbox_rows(db)):
        assert time.monotonic() < deadline, "deliveries still pending"
        await forwarder.run()
        await asyncio.sleep(0.05)


async def test_queued_report_reaches_caseworker_as_file_that_opens_to_the_body(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        await caseworker_chat(api, 5001)
        caseworker = await enrol_caseworker(db, org, chat_id=5001)
        report = await queue_report(db, org, caseworker)
        chat = api.chat(5001)

        await application.start()  # the JobQueue runs the forward job registered by bot.app
        try:
            await chat.wait_until(lambda: bool(documents(chat)), timeout=10)
        finally:
            await application.stop()

        [message] = documents(chat)
        assert message.caption == delivery_caption(report.case_reference, 0)
        assert message.caption == f"{report.case_reference} #0"
        assert message.document is not None
        assert message.document.file_name == delivery_file_name(report.case_reference, 0)
        compact = report.case_reference.replace("-", "")
        assert message.document.file_name == f"case-{compact}-0.sanad"
        opened = open_sealed_file(
            chat.download(message), caseworker.keys.encryption, org.signing.public_key
        )
        assert opened.case_reference == report.case_reference
        assert opened.report_id == report.report_id
        assert opened.sequence == 0
        assert opened.body.answer("incident.description") == report.canary
        [row] = await outbox_rows(db)
        assert row.status is DeliveryStatus.SENT
        # I3: a delivered row keeps the day it went out, not the instant.
        assert (row.not_before.hour, row.not_before.minute, row.not_before.second) == (0, 0, 0)


async def test_file_carries_only_the_receiving_caseworkers_wrap(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        await caseworker_chat(api, 5002)
        caseworker = await enrol_caseworker(runtime.database, org, chat_id=5002)
        await queue_report(runtime.database, org, caseworker)
        await fast_forwarder(application, runtime).run()

    [message] = documents(api.chat(5002))
    content = api.chat(5002).download(message)
    sealed = read_sealed_file(content, org.signing.public_key)
    assert sealed.wrap.key_id == caseworker.keys.public.encryption.key_id
    # The recovery key has a wrap in the database, but not in this caseworker's file.
    with pytest.raises(NotForThisKey):
        open_sealed_file(content, org.recovery, org.signing.public_key)


@pytest.mark.parametrize(
    "make_ineligible",
    ["expired certificate", "revoked status", "never certified"],
)
async def test_ineligible_caseworker_gets_nothing_and_the_failure_is_counted(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path, make_ineligible: str
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        await caseworker_chat(api, 5003)
        today = dt.datetime.now(dt.UTC).date()
        expires = today if make_ineligible == "expired certificate" else None
        status = {
            "revoked status": CaseworkerStatus.REVOKED,
            "never certified": CaseworkerStatus.PENDING,
        }.get(make_ineligible, CaseworkerStatus.VERIFIED)
        caseworker = await enrol_caseworker(db, org, chat_id=5003, expires=expires, status=status)
        await queue_report(db, org, caseworker)
        counts = await fast_forwarder(application, runtime).run()

        assert counts.failed == 1
        assert counts.sent == 0
        assert documents(api.chat(5003)) == []
        [row] = await outbox_rows(db)
        assert row.status is DeliveryStatus.FAILED
        assert await failed_counts(runtime) == {"CaseworkerNotEligible": 1}


async def test_blocked_caseworker_fails_the_delivery_as_forbidden(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        await caseworker_chat(api, 5004)
        await api.chat(5004).block()
        caseworker = await enrol_caseworker(db, org, chat_id=5004)
        await queue_report(db, org, caseworker)
        await fast_forwarder(application, runtime).run()

        [row] = await outbox_rows(db)
        assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.FAILED, 1, "Forbidden")
        assert await failed_counts(runtime) == {"Forbidden": 1}


async def test_a_refused_token_ends_the_run_and_keeps_the_rows_for_later(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        await caseworker_chat(api, 5008)
        caseworker = await enrol_caseworker(db, org, chat_id=5008)
        await queue_report(db, org, caseworker)
        revoked = Bot("999:revoked-token", base_url=f"{api.url}/bot")
        forwarder = fast_forwarder(application, runtime)
        forwarder._bot = revoked

        counts = await asyncio.wait_for(forwarder.run(), timeout=10)

        assert counts.sent == 0
        [row] = await outbox_rows(db)
        # Given back untried and due only after the next runs, not retried in a loop.
        assert (row.status, row.attempts, row.claimed_by) == (DeliveryStatus.PENDING, 0, None)
        assert row.not_before > dt.datetime.now(dt.UTC)


async def test_retry_after_is_waited_out_without_counting_an_attempt(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        await caseworker_chat(api, 5005)
        caseworker = await enrol_caseworker(db, org, chat_id=5005)
        await queue_report(db, org, caseworker)
        api.faults.inject("sendDocument", sequence=[Fault.rate_limited(retry_after=1)])

        started = time.monotonic()
        counts = await fast_forwarder(application, runtime).run()
        elapsed = time.monotonic() - started

        assert (counts.sent, counts.deferred) == (1, 1)
        assert elapsed >= 1.0  # it waited the time Telegram said, then sent
        [row] = await outbox_rows(db)
        assert (row.status, row.attempts) == (DeliveryStatus.SENT, 0)
        assert len(documents(api.chat(5005))) == 1


async def test_server_errors_back_off_then_fail_after_max_attempts(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        await caseworker_chat(api, 5006)
        caseworker = await enrol_caseworker(db, org, chat_id=5006)
        await queue_report(db, org, caseworker)
        api.faults.inject("sendDocument", share=1.0, fault=Fault.server_error())
        forwarder = fast_forwarder(application, runtime)

        await forwarder.run()
        [row] = await outbox_rows(db)
        # Backed off: pending, one attempt, not due again at once.
        assert (row.status, row.attempts, row.last_error) == (
            DeliveryStatus.PENDING,
            1,
            "NetworkError",
        )
        assert row.not_before > dt.datetime.now(dt.UTC)

        await drain(forwarder, db)
        [row] = await outbox_rows(db)
        assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 4)
        assert await failed_counts(runtime) == {"NetworkError": 1}
        assert documents(api.chat(5006)) == []


async def test_seeded_faults_every_delivery_arrives_once_or_is_reported_failed(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    rng = random.Random(20250314)
    choices: list[Callable[[], Fault | None]] = [
        lambda: None,
        lambda: None,
        lambda: None,
        lambda: None,
        lambda: None,
        lambda: Fault.rate_limited(retry_after=1),
        Fault.server_error,
        Fault.hang,  # no answer: PTB's read timeout, then a retry
        Fault.forbidden,
    ]
    # One of each fault early on, so every kind is met whatever the seed draws after.
    first = [Fault.server_error(), None, Fault.hang(), Fault.rate_limited(1), Fault.forbidden()]
    plan = first + [rng.choice(choices)() for _ in range(400)]
    async with bot_application(api, org, tmp_path, max_attempts=12) as (application, runtime):
        db = runtime.database
        caseworkers: list[EnrolledCaseworker] = []
        for chat_id in range(6001, 6005):
            await caseworker_chat(api, chat_id)
            caseworkers.append(await enrol_caseworker(db, org, chat_id=chat_id))
        reports = [await queue_report(db, org, caseworkers[i % 4]) for i in range(24)]
        api.faults.inject("sendDocument", sequence=plan)

        await drain(fast_forwarder(application, runtime), db, within=60)
        rows = await outbox_rows(db)

    arrived: Counter[tuple[str, int]] = Counter()
    for chat_id in range(6001, 6005):
        for message in documents(api.chat(chat_id)):
            sealed = read_sealed_file(api.chat(chat_id).download(message), org.signing.public_key)
            arrived[(sealed.case_reference, sealed.sequence)] += 1
    status = {row.report_id: row for row in rows}
    failed = [r for r in reports if status[r.report_id].status is DeliveryStatus.FAILED]
    assert max(arrived.values()) == 1  # none arrives twice
    assert all(status[r.report_id].last_error == "Forbidden" for r in failed)
    assert {(r.case_reference, 0) for r in reports} == set(arrived) | {
        (r.case_reference, 0) for r in failed
    }
    assert set(arrived).isdisjoint({(r.case_reference, 0) for r in failed})
    assert failed, "the seeded plan includes 403s: some delivery must be reported failed"
    assert all(
        row.status is DeliveryStatus.SENT
        for row in rows
        if row.report_id not in {r.report_id for r in failed}
    )


async def test_stopping_gives_claims_back_untried(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        chat = await reports_queued_for(api, org, db, chat_id=5007, count=5)

        # The application stops once two files have arrived.
        counts = await fast_forwarder(application, runtime).run(lambda: len(documents(chat)) < 2)

        rows = await outbox_rows(db)
        assert counts.sent == 2
        assert [r.status for r in rows].count(DeliveryStatus.SENT) == 2
        assert all(r.claimed_by is None and r.claimed_until is None for r in rows)
        assert all(r.attempts == 0 for r in rows)
        assert len(documents(chat)) == 2


def test_batches_are_spaced_by_the_interval_plus_fresh_uniform_jitter() -> None:
    settings = ForwardSettings(
        revocation_floor=lambda: 0, batch_interval=600, jitter=300, retry=RetryPolicy()
    )
    delays = [settings.next_delay() for _ in range(2000)]
    assert all(600 <= d <= 900 for d in delays)
    # Spread over the whole jitter window: no fixed offset an observer could subtract.
    assert min(delays) < 615
    assert max(delays) > 885
    assert len(set(delays)) == len(delays)


async def test_application_schedules_one_forward_job(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, _runtime):
        assert application.job_queue is not None
        # Other features schedule their own jobs (erase, purge); forward runs exactly once.
        assert [job.name for job in application.job_queue.jobs()].count(JOB_NAME) == 1


@pytest.mark.postgres
async def test_two_instances_on_postgresql_never_send_one_row_twice(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with (
        postgres_schema() as schema,
        bot_application(api, org, tmp_path) as (application, runtime),
    ):
        db = schema.open()
        try:
            await upgrade_database(db)
            chats = []
            for chat_id in range(8001, 8005):
                await caseworker_chat(api, chat_id)
                caseworker = await enrol_caseworker(db, org, chat_id=chat_id)
                chats.append(api.chat(chat_id))
                for _ in range(10):
                    await queue_report(db, org, caseworker)
            # Two bot instances: their own worker tokens, the same database and outbox.
            instances = [
                Forwarder(
                    db,
                    application.bot,
                    replace(
                        ForwardSettings.from_config(runtime.config.delivery, lambda: 0),
                        claim_size=3,
                    ),
                    org_key=runtime.config.organisation.signing_public_key,
                    identity=runtime.bot,
                )
                for _ in range(2)
            ]
            results = await asyncio.gather(*(instance.run() for instance in instances))
            rows = await outbox_rows(db)
        finally:
            await db.close()

    assert all(row.status is DeliveryStatus.SENT for row in rows)
    assert all(counts.sent > 0 for counts in results)  # both really took part
    assert sum(counts.sent for counts in results) == 40
    captions = Counter(m.caption for chat in chats for m in documents(chat))
    assert len(captions) == 40
    assert set(captions.values()) == {1}


async def test_a_batch_is_built_one_file_at_a_time_just_before_it_is_sent(
    api: LocalBotApi,
    org: OrganisationKeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before, every file of a claimed batch (up to 30 reports, each up to the per-report limit)
    # was built before the first was sent: several GB for large reports, against MemoryMax.
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        await caseworker_chat(api, 5011)
        caseworker = await enrol_caseworker(db, org, chat_id=5011)
        for _ in range(4):
            await queue_report(db, org, caseworker)
        built_unsent: list[int] = []
        outstanding = 0
        real_build = forward_module.build_parcels

        async def counting_build(*args: Any, **kwargs: Any) -> Any:
            nonlocal outstanding
            items = await real_build(*args, **kwargs)
            outstanding += sum(isinstance(item, Parcel) for item in items)
            return items

        forwarder = fast_forwarder(application, runtime)
        real_send = forwarder._send

        async def counting_send(chat_id: int, document: Any) -> None:
            nonlocal outstanding
            built_unsent.append(outstanding)
            await real_send(chat_id, document)
            outstanding -= 1

        monkeypatch.setattr(forward_module, "build_parcels", counting_build)
        monkeypatch.setattr(forwarder, "_send", counting_send)
        await drain(forwarder, db)

        assert len(documents(api.chat(5011))) == 4
        assert built_unsent == [1, 1, 1, 1]


class Listed:
    """A process alone with its database whose entry in the registry ends when ``until`` says
    (what a lock connection's end is to an instance on PostgreSQL, ``bot.leadership.fence``)."""

    registered_name = None

    def __init__(self, until: Callable[[], bool]) -> None:
        self.registered = until

    def leading(self) -> bool:
        return True

    async def check(self, session: Any) -> None:
        """Nothing to check."""

    async def take_update(self, update_id: int) -> bool:
        return True

    def at_takeover(self, task: Any) -> None:
        """No takeover."""


async def test_an_unregistered_worker_claims_nothing_and_stops_sending(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    """Once unlisted, a leader may release its claims and another instance send them: it sends
    no more of its batch, and gives the rest back untried."""
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        chat = await reports_queued_for(api, org, db, chat_id=5301, count=3)

        await fast_forwarder(application, runtime, Listed(lambda: False)).run()
        assert all(row.claimed_by is None for row in await outbox_rows(db))
        assert documents(chat) == []

        # Listed for the claim and the first file; unlisted from then on.
        listed_until_a_file = Listed(lambda: not documents(chat))
        counts = await fast_forwarder(application, runtime, listed_until_a_file).run()
        assert counts.sent == 1
        assert len(documents(chat)) == 1
        rows = await outbox_rows(db)
        pending = [row for row in rows if row.status is DeliveryStatus.PENDING]
        assert len(pending) == 2
        assert [(row.claimed_by, row.attempts) for row in pending] == [(None, 0), (None, 0)]
