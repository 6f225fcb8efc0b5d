"""I3 at rest: after a whole flow, no stored time is finer than the day, and no id is a counter.

Reports are submitted through the bot's own submission service and delivered by the forward job
to a caseworker's chat on the local Bot API server; one is added to by its reporter, another
moved to a second caseworker by an admin, and a few conversations leave erase targets for
housekeeping. At each step every column of every
table of the database (SQLite and PostgreSQL) is read back through the database's own reflected
schema, so a column added later is scanned too:

- a date-and-time value must fall on midnight (a day), except the scheduling columns named in
  :data:`GRIDS`, which must fall on their grid (DESIGN.md I3);
- every single-column integer primary key outside :data:`COUNTED` must look random: no two
  values within 2**20 of each other, and not all below 2**32 (a counter fails both); the erase
  targets, written one conversation after another, must not come back in insertion order.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Integer, MetaData, select
from telegram import Bot

from bot.bot_identity import certify_bot, load_bot_identity
from bot.jobs.forward import Forwarder, ForwardSettings
from bot.local_api import LocalBotApi
from bot.services import caseworkers
from bot.services.housekeeping import Housekeeping, HousekeepingKeyring
from bot.services.key_lifecycle import PepperRing
from bot.services.mailbox import MailboxService, MailboxSettings
from bot.services.report_submission import ReportSubmissionService
from crypto import KdfPool
from crypto.keys import OrganisationKeys
from handlers.draft import Draft
from storage import outbox
from storage.engine import Database
from storage.models import DeliveryStatus, OutboxEntry
from storage.models import Housekeeping as HousekeepingRow
from tests.caseworkers.conftest import approved
from tests.storage.conftest import NOW

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
# The deployment's [delivery]: the defaults of config.example.toml.
INTERVAL_SECONDS, JITTER_SECONDS = 600.0, 300.0
# The scheduling columns allowed finer than a day (DESIGN.md I3), and the grid each sits on.
GRIDS = {
    ("outbox", "not_before"): dt.timedelta(seconds=INTERVAL_SECONDS),
    ("outbox", "claimed_until"): dt.timedelta(seconds=INTERVAL_SECONDS),
    ("housekeeping", "deadline"): dt.timedelta(hours=1),
    # When the service last changed hands (PostgreSQL leadership), linked to no report.
    ("leadership", "since"): dt.timedelta(minutes=1),
}
# Tables whose integer ids may count: none of them is linked to a report or a reporter.
COUNTED = {
    "caseworkers",  # the organisation's staff, not reporters
    "enrolment_claims",  # a caseworker's chats, on the caseworker side
    "audit_log",  # its order is its point; its rows carry days only and no report
    "revocation_lists",  # the serial is signed and must grow
    "recent_updates",  # Telegram's own update ids, kept to dedupe a takeover; no report, no time
}
CASEWORKER_CHAT = 5_300_000_000 + secrets.randbelow(10**8)
REPORTS = 3
CONVERSATIONS = 9


def _read_everything(connection: Connection) -> dict[str, tuple[Any, list[dict[str, Any]]]]:
    """Every table of the live schema, reflected (not the models), with all its rows."""
    metadata = MetaData()
    metadata.reflect(connection)
    return {
        name: (table, [dict(row._mapping) for row in connection.execute(select(table))])
        for name, table in metadata.tables.items()
        if name != "alembic_version"
    }


def _as_utc(value: dt.datetime) -> dt.datetime:
    # Stored naive UTC (storage.models.UTCDateTime); read back raw here, so qualify it.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


async def assert_coarse_at_rest(db: Database) -> None:
    """Fail on any stored time finer than its allowed grid, or any id that counts (I3)."""
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(_read_everything)
    fine: list[str] = []
    counters: list[str] = []
    for name, (table, rows) in tables.items():
        for column in table.columns:
            values = [row[column.name] for row in rows if row[column.name] is not None]
            times = [_as_utc(v) for v in values if isinstance(v, dt.datetime)]
            grid = GRIDS.get((name, column.name), DAY)
            fine += [f"{name}.{column.name}" for t in times if (t - EPOCH) % grid]
        keys = list(table.primary_key.columns)
        if name in COUNTED or len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        ids = sorted(row[keys[0].name] for row in rows)
        close = any(b - a < 2**20 for a, b in itertools.pairwise(ids))
        if ids and (close or max(ids) < 2**32):
            counters.append(f"{name}.{keys[0].name}")
    assert fine == [], f"finer than allowed: {sorted(set(fine))}"
    assert counters == [], f"ids that count: {counters}"


async def _housekeeping_ids(db: Database) -> set[int]:
    async with db.sessionmaker() as session:
        return set((await session.scalars(select(HousekeepingRow.id))).all())


async def test_a_whole_flow_stores_no_time_finer_than_allowed_and_no_counting_id(
    db: Database, tmp_path: Path
) -> None:
    org = OrganisationKeys.generate()
    state_dir = tmp_path / "state"
    # An instant with seconds and microseconds, as a real clock gives, on the fixtures' day.
    start = NOW + dt.timedelta(minutes=3, seconds=17, microseconds=123_457)
    today = start.date()
    certify_bot(state_dir, org.signing, today=today, days=30)
    identity = load_bot_identity(state_dir, org.signing.public_key, today=today)
    await approved(db, org, "amal", days=30, chat_id=CASEWORKER_CHAT)
    salt, pepper = secrets.token_bytes(16), secrets.token_bytes(32)
    settings = ForwardSettings(
        revocation_floor=lambda: 0,
        batch_interval=INTERVAL_SECONDS,
        jitter=JITTER_SECONDS,
        retry=outbox.RetryPolicy(),
    )
    async with KdfPool(2) as pool:
        submitter = ReportSubmissionService(
            db,
            pool,
            organisation_signing_key=org.signing.public_key,
            recovery_key=org.recovery.public_key,
            receipt_salt=salt,
            peppers=PepperRing({1: pepper}),
            revocation_floor=lambda: 0,
            clock=lambda: start,
            delivery_schedule=settings.schedule,
        )
        submissions = [
            await submitter.submit(Draft(language="en", what_happened=f"report {n}"))
            for n in range(REPORTS)
        ]
        # Pending deliveries: jittered, on the forward job's grid.
        await assert_coarse_at_rest(db)

        # An hour on, a forward run delivers them; the lease it takes is on the grid too.
        later = start + dt.timedelta(hours=1)
        async with LocalBotApi.running(seed=11) as api:
            token = api.add_bot()
            chat = api.open_chat(CASEWORKER_CHAT, "Caseworker")
            await chat.send_command("start")
            async with Bot(token, base_url=f"{api.url}/bot") as bot:
                claimed = await outbox.claim_batch(
                    db,
                    worker="inspector",
                    now=later,
                    limit=1,
                    lease=settings.lease,
                    schedule=settings.schedule,
                )
                assert len(claimed) == 1
                await assert_coarse_at_rest(db)
                forwarder = Forwarder(
                    db,
                    bot,
                    settings,
                    org_key=org.signing.public_key,
                    identity=identity,
                    clock=lambda: later + dt.timedelta(hours=1),
                )
                assert (await forwarder.run()).sent == REPORTS
        await assert_coarse_at_rest(db)

        # The caseworker replies; the reporter reads it and adds information.
        mailbox = MailboxService(
            db,
            pool,
            MailboxSettings(
                revocation_floor=lambda: 0,
                org_signing_public=org.signing.public_key,
                recovery_public=org.recovery.public_key,
                receipt_salt=salt,
                receipt_pepper=pepper,
                jitter_seconds=JITTER_SECONDS,
                delivery_interval_seconds=INTERVAL_SECONDS,
            ),
            bot=identity,
            clock=lambda: later + dt.timedelta(hours=2, minutes=3, seconds=9),
        )
        view = await mailbox.look_up(submissions[0].receipt)
        assert view is not None
        await mailbox.add_information(view.access, Draft(what_happened="one more thing"))

    # An admin moves another case to a second caseworker, passing the instant it happens.
    await approved(db, org, "badr", days=30, chat_id=CASEWORKER_CHAT + 1)
    moved_at = later + dt.timedelta(hours=3, minutes=1, seconds=2, microseconds=3)
    await caseworkers.reassign(
        db,
        case_reference=submissions[1].case_reference,
        to="badr",
        recovery_key=org.recovery,
        recovery_public=org.recovery.public_key,
        org_public=org.signing.public_key,
        today=moved_at.date(),
        now=moved_at,
        min_serial=0,
    )

    # Conversations end one after another, each leaving erase targets.
    (state_dir / "secrets").mkdir(mode=0o700, exist_ok=True)
    housekeeping = Housekeeping(
        db,
        HousekeepingKeyring.of_state_dir(state_dir),
        retention=dt.timedelta(hours=24),
        clock=lambda: later + dt.timedelta(minutes=7, seconds=41, microseconds=5),
    )
    inserted: list[int] = []
    for n in range(CONVERSATIONS):
        before = await _housekeeping_ids(db)
        await housekeeping.keep_for_erasure(7_000_000_000 + n, [n + 1, n + 2])
        [new] = await _housekeeping_ids(db) - before
        inserted.append(new)

    async with db.sessionmaker() as session:
        statuses = (await session.scalars(select(OutboxEntry.status))).all()
    # Every report went out once; the addendum and the moved case's new delivery wait.
    expected = [DeliveryStatus.SENT] * REPORTS + [DeliveryStatus.PENDING] * 2
    assert sorted(statuses) == sorted(expected)
    await assert_coarse_at_rest(db)
    # Written in order, read back in any order but that one (1 in 9! by chance).
    assert inserted != sorted(inserted)
