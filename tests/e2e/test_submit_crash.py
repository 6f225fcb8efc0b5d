"""Submit with ``sanad run`` SIGKILLed around the commit (I8): nothing lost, nothing half-written.

After Submit the flow answers the press, shows "Sealing your report, one moment…" in place of the
review, seals and commits the report with its wraps, mailbox and outbox row in one transaction,
and only then shows the receipt in place of that message. The tests stop the bot at two points
without touching its code:

- after the commit: the local Bot API server never answers the receipt's ``editMessageText`` (a
  hang), and the bot is killed while it waits — the report must be whole, open with the recovery
  key and still reach its caseworker after a restart;
- inside the transaction: the test holds a lock the bot's writes need, so the bot sits mid-way
  through the submission, and is killed there — no report, body, wrap, mailbox or outbox row may
  remain. On PostgreSQL the test locks the outbox only and watches the server until the bot has
  written the report, body, wraps and mailbox and waits on the outbox insert: a true half-written
  transaction, killed.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.local_api import Fault, LocalBotApi, UserChat
from bot.services.report_submission import KEY_DESCRIPTION
from crypto.keys import CaseworkerKeys
from storage.engine import Database
from storage.migrate import upgrade_database
from storage.models import Mailbox, OutboxEntry, Report, ReportBody, Wrap
from tests.delivery.conftest import enrol_caseworker
from tests.handlers.conftest import Reporter, answer_to_narrative, begin, finish_from_links
from tests.handlers.e2e import open_stored, stored_reports
from tests.support.processes import kill, until

from .conftest import Deployment, receipt_in, sealed_file

pytestmark = pytest.mark.slow

CASEWORKER_CHAT = 6_200_300_400
REPORT_TABLES = (Report, ReportBody, Wrap, Mailbox, OutboxEntry)


async def row_counts(db: Database) -> dict[str, int]:
    """How many rows each table of a report holds."""
    async with db.sessionmaker() as session:
        return {
            table.__tablename__: await session.scalar(select(func.count()).select_from(table))
            or 0
            for table in REPORT_TABLES
        }


async def with_caseworker(deployment: Deployment) -> tuple[UserChat, CaseworkerKeys]:
    """A migrated database with one approved caseworker whose chat has started the bot."""
    chat = deployment.api.open_chat(CASEWORKER_CHAT, "Amina", language_code="en")
    await chat.send_command("cases")  # Telegram lets a bot write only after the user has
    async with deployment.database() as db:
        await upgrade_database(db)
        enrolled = await enrol_caseworker(db, deployment.org, chat_id=CASEWORKER_CHAT)
    return chat, enrolled.keys


async def up_to_review(deployment: Deployment, statement: str) -> Reporter:
    """A reporter with a whole draft, looking at the review with its Submit button."""
    reporter = Reporter(deployment.api.open_chat(7_100_000_000_000 + secrets.randbelow(10**9),
                                                 "Salma", language_code="en"))
    await begin(reporter)
    await answer_to_narrative(reporter)
    await reporter.say(statement, until=lambda m: bool(m.buttons))
    await finish_from_links(reporter)
    return reporter


async def press_submit(reporter: Reporter) -> None:
    review = reporter.latest_with_buttons()
    await reporter.chat.press_button(review.message_id, text=reporter._("Submit"))


def shows_no_receipt(chat: UserChat) -> bool:
    try:
        for message in chat.bot_messages():
            receipt_in(message)
    except AssertionError:
        return True
    return False


async def test_kill_after_the_commit_before_the_receipt_loses_no_report(
    deployment: Deployment,
) -> None:
    statement = f"canary-{secrets.token_hex(6)}"
    caseworker_chat, _keys = await with_caseworker(deployment)

    async with deployment.bot() as bot:
        reporter = await up_to_review(deployment, statement)
        edited = deployment.calls["editMessageText"]
        # "Sealing your report, one moment…" replaces the review in place; the receipt, which
        # replaces that message after the commit, never returns.
        deployment.api.faults.inject("editMessageText", sequence=[None, Fault.hang()])
        await press_submit(reporter)
        await deployment.calls.wait_for("editMessageText", edited + 2)
        await kill(bot)
    assert shows_no_receipt(reporter.chat)

    async with deployment.database() as db:
        assert await row_counts(db) == {
            "reports": 1, "report_bodies": 1, "wraps": 2, "mailboxes": 1, "outbox": 1,
        }
        [stored] = await stored_reports(db)
    body = open_stored(stored, deployment.org.recovery)
    assert body.answer(KEY_DESCRIPTION) == statement

    # Not lost: a restarted bot delivers it (if the dead one had not already).
    deployment.api.faults.clear()
    async with deployment.bot():
        await sealed_file(caseworker_chat, f"{stored.report.case_reference} #0")


async def test_kill_inside_the_submission_on_sqlite_leaves_no_row(
    deployment: Deployment,
) -> None:
    await with_caseworker(deployment)
    async with deployment.bot() as bot:
        reporter = await up_to_review(deployment, "never stored")
        edited = deployment.calls["editMessageText"]
        # Another connection holds SQLite's write lock: the bot's transaction cannot commit.
        holder = sqlite3.connect(deployment.sqlite_path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            await press_submit(reporter)
            # "Sealing your report, one moment…", edited into the review's place.
            await deployment.calls.wait_for("editMessageText", edited + 1)
            # Time for the Argon2id derivation and sealing, so the bot waits on the lock; the
            # assertions below hold however far it got, as nothing can commit meanwhile.
            await asyncio.sleep(1.0)
            await kill(bot)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert shows_no_receipt(reporter.chat)
    async with deployment.database() as db:
        assert set((await row_counts(db)).values()) == {0}


@pytest.mark.postgres
async def test_kill_with_the_report_written_but_not_committed_on_postgres_leaves_no_row(
    api: LocalBotApi, tmp_path: Path, postgres_database: str
) -> None:
    deployment = Deployment(api, tmp_path, database_url=postgres_database)
    await with_caseworker(deployment)
    plain = make_url(postgres_database).set(drivername="postgresql")
    # Two connections: one holds the lock in its transaction; the other watches, outside any
    # transaction, because pg_stat_activity is a snapshot frozen for a transaction's duration.
    locker = await asyncpg.connect(plain.render_as_string(hide_password=False))
    watcher = await asyncpg.connect(plain.render_as_string(hide_password=False))
    try:
        async with deployment.bot() as bot:
            reporter = await up_to_review(deployment, "never stored")
            lock = locker.transaction()
            await lock.start()
            # SHARE blocks inserts into the outbox only: the bot writes everything else first.
            await locker.execute("LOCK TABLE outbox IN SHARE MODE")
            await press_submit(reporter)

            async def written_and_waiting() -> bool:
                tables = await watcher.fetch(
                    """
                    SELECT c.relname FROM pg_stat_activity a
                    JOIN pg_locks l ON l.pid = a.pid AND l.granted
                    JOIN pg_class c ON c.oid = l.relation
                    WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
                      AND a.query LIKE 'INSERT INTO outbox%' AND l.mode = 'RowExclusiveLock'
                    """
                )
                return {"reports", "report_bodies", "wraps", "mailboxes"} <= {
                    row["relname"] for row in tables
                }

            await until(written_and_waiting)
            await kill(bot)
            await lock.rollback()
    finally:
        await locker.close()
        await watcher.close()
    assert shows_no_receipt(reporter.chat)
    async with deployment.database() as db:
        # The dead client's transaction can never commit; PostgreSQL rolls it back.
        await until(lambda: no_rows(db))


async def no_rows(db: Database) -> bool:
    return set((await row_counts(db)).values()) == {0}
