"""The whole story across processes: enrolment, a report, delivery, replies, /status, an addendum.

The bot is ``sanad run`` in a subprocess against the local Bot API server; the caseworker and the
admin are the ``sanad`` CLI in subprocesses; the reporter and the caseworker are users of the
local server. Nothing is called inside the bot: everything goes through Telegram's API, the
configuration file, the database file and the command line, as in a deployment.

The story runs on format v2 (I9): the bot is certified with ``sanad admin certify-bot``; the
caseworker's key file pins the organisation key, whose fingerprint is compared at enrolment;
approval takes the confirmation code the bot gave the enrolling chat; every file the caseworker
opens is checked against the pinned key; both replies are signed (the bot's and the
caseworker's), and ``/status`` shows them only because their signatures verify. It runs on SQLite
and on PostgreSQL.

At the end the reporter's chat is empty (I7), and the SQLite file and its WAL (on SQLite) and
everything the bot wrote to stderr hold neither the reporter's words nor their Telegram identity
(I1, I2).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.local_api import LocalBotApi
from crypto import organisation_signing_fingerprint
from crypto.report_fields import (
    KEY_ADVOCACY,
    KEY_COUNTRY,
    KEY_DANGER,
    KEY_DESCRIPTION,
    KEY_LANGUAGE,
    KEY_LINK,
    KEY_MONTH,
    KEY_PLATFORM,
    KEY_PLATFORM_RESPONSE,
    KEY_REPLY_WANTED,
    KEY_TYPE,
    KEY_YEAR,
)
from handlers.choices import country_name, month_name
from handlers.i18n import LANGUAGE_NAMES, translator
from storage.models import OutboxEntry, Report
from storage.models import Wrap as WrapRow
from tests.handlers import samples
from tests.handlers.conftest import Reporter, answer_to_narrative, begin, finish_from_links
from tests.support.at_rest import assert_absent, identifier_forms, sqlite_files
from tests.support.processes import stop

from .conftest import Deployment, receipt_in, sealed_file

pytestmark = pytest.mark.slow

CASEWORKER_CHAT = 6_100_200_300
ar = translator("ar")


def new_reporter_id() -> int:
    """A fresh, long Telegram user id: its forms are unlikely to occur in a file by chance."""
    return 7_000_000_000_000 + secrets.randbelow(10**12)


async def file_report(reporter: Reporter, statement: str, link: str, photo: bytes) -> str:
    """The guided report in Arabic with a statement, a link and a photo; returns the receipt."""
    chat = reporter.chat
    await chat.send_command("start")
    await chat.wait_for(lambda m: bool(m.buttons))
    await reporter.press(LANGUAGE_NAMES["ar"], translate=False)
    await reporter.press("I understand, continue")
    await reporter.press("No")
    await reporter.press("Blackmail or extortion")
    await reporter.press("Instagram")
    await reporter.press(country_name("LB", "ar"), translate=False)
    await reporter.press("2025", translate=False)
    await reporter.press(month_name(7, "ar"), translate=False)
    await reporter.say(statement, until=lambda m: bool(m.buttons))
    await reporter.say(link, until=lambda m: bool(m.buttons))
    await reporter.press("Done")
    await chat.send_photo(photo)
    added = ar("File added. Files added so far: {count}.").format(count=1)
    await chat.wait_for(lambda m: (m.text or "").startswith(added), timeout=15)
    await reporter.press("Done")
    await reporter.press("I reported it and they removed it")
    await reporter.press("Yes, I would like a reply")
    await reporter.press("No")
    shown = await reporter.press("Submit")
    return receipt_in(shown)


async def leave_after_saving(reporter: Reporter) -> None:
    """Press "I have saved it" and wait for the chat to empty (I7)."""
    chat = reporter.chat
    await chat.press_button(reporter.latest_with_buttons().message_id, text=ar("I have saved it"))
    await chat.wait_until(lambda: not chat.messages(), timeout=10)


async def check_status(reporter: Reporter, receipt: str, *expected: str) -> None:
    """/status with the receipt; the answer shows every text in ``expected``."""
    chat = reporter.chat
    await chat.send_command("status")
    await chat.wait_for()  # the request for the receipt
    await chat.send_text(receipt)
    status = await chat.wait_for(lambda m: bool(m.buttons), timeout=15)
    for text in expected:
        assert text in (status.text or "")


async def add_information(reporter: Reporter, text: str) -> None:
    """From the status view: Add information, the text, Send; the chat then empties."""
    chat = reporter.chat
    await reporter.press("Add information")
    added = ar("Added. Send more, or press Send.")
    await reporter.say(text, until=lambda m: added in (m.text or ""))
    await chat.press_button(reporter.latest_with_buttons().message_id, text=ar("Send"))
    await chat.wait_until(lambda: not chat.messages(), timeout=15)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def story_deployment(
    request: pytest.FixtureRequest, api: LocalBotApi, tmp_path: Path
) -> Deployment:
    """The deployment on SQLite (the default) or on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return Deployment(api, tmp_path)
    database_url = request.getfixturevalue("postgres_database")
    return Deployment(api, tmp_path, database_url=database_url)


async def test_report_reply_status_and_addendum_across_processes_leave_nothing_at_rest(
    story_deployment: Deployment, tmp_path: Path
) -> None:
    deployment = story_deployment
    on_sqlite = deployment.database_url.startswith("sqlite")
    api = deployment.api
    tag = secrets.token_hex(5)
    statement = f"ابتزّوني على إنستغرام وهدّدوا بنشر صوري canary-statement-{tag}"
    link = f"https://instagram.com/p/canary{tag}"
    addendum = f"أرسلوا رسالة تهديد جديدة canary-addendum-{tag}"
    reply_text = f"Received, we are looking into it canary-reply-{tag}"
    file_reply_text = f"Please keep the new messages canary-file-reply-{tag}"
    reporter_id = new_reporter_id()
    reporter_name, reporter_username = f"Canary{tag}", f"canary_{tag}"
    photo = samples.jpeg_with_gps(author=f"canary-artist-{tag}")

    caseworker_chat = api.open_chat(CASEWORKER_CHAT, "Amina", language_code="en")
    reporter_chat = api.open_chat(
        reporter_id, reporter_name, username=reporter_username, language_code="ar"
    )
    reporter = Reporter(reporter_chat, "ar")

    certified = await deployment.certify_bot()
    assert "expires on" in certified.stdout
    async with deployment.bot() as bot:
        caseworker = await deployment.enroll_and_approve(caseworker_chat, "amina")
        # The organisation key the caseworker pinned is the one the admin holds (read aloud).
        assert caseworker.organisation_fingerprint == organisation_signing_fingerprint(
            deployment.org.signing.public_key
        )

        receipt = await file_report(reporter, statement, link, photo)
        await leave_after_saving(reporter)

        # The forward job delivers the sealed report; the caseworker opens it on their machine.
        async with deployment.database() as db, db.sessionmaker() as session:
            report = (await session.scalars(select(Report))).one()
        reference = report.case_reference
        report_file = deployment.download(
            caseworker_chat, await sealed_file(caseworker_chat, f"{reference} #0")
        )
        opened = await deployment.open_sealed(report_file, caseworker.key, out=tmp_path / "case")
        assert f"Case: {reference}" in opened.stdout
        for key, value in {
            KEY_LANGUAGE: "ar",
            KEY_DANGER: "no",
            KEY_TYPE: "blackmail",
            KEY_PLATFORM: "instagram",
            KEY_COUNTRY: "LB",
            KEY_YEAR: "2025",
            KEY_MONTH: "7",
            KEY_DESCRIPTION: statement,
            KEY_LINK: link,
            KEY_PLATFORM_RESPONSE: "removed",
            KEY_REPLY_WANTED: "yes",
            KEY_ADVOCACY: "no",
        }.items():
            assert f"{key}: {value}\n" in opened.stdout
        [saved] = (tmp_path / "case").glob("*.jpg")
        assert b"canary-artist" not in saved.read_bytes()  # EXIF stripped before sealing

        # Two replies: /reply in Telegram, and a file sealed and signed on the caseworker's machine.
        await caseworker_chat.send_command("reply", f"{reference} {reply_text}")
        stored = await caseworker_chat.wait_for(lambda m: "sealed and stored" in (m.text or ""))
        assert f"Reply 1 to {reference}" in (stored.text or "")
        assert all(reply_text not in (m.text or "") for m in caseworker_chat.messages())
        written = await deployment.write_reply(
            reference, caseworker.key, report_file, file_reply_text, sequence=1
        )
        await caseworker_chat.send_document(
            written.read_bytes(), written.name, "application/octet-stream"
        )
        await caseworker_chat.wait_for(lambda m: f"Reply 2 to {reference}" in (m.text or ""))

        # The reporter reads both replies with the receipt, then adds information.
        await check_status(reporter, receipt, reply_text, file_reply_text)
        await add_information(reporter, addendum)
        assert reporter_chat.messages() == []

        addendum_file = deployment.download(
            caseworker_chat, await sealed_file(caseworker_chat, f"{reference} #1")
        )
        opened = await deployment.open_sealed(addendum_file, caseworker.key)
        assert f"addendum.text: {addendum}" in opened.stdout
        assert "sequence 1" in opened.stdout

        while_running = sqlite_files(deployment.sqlite_path) if on_sqlite else {}
        assert await stop(bot) == 0
    after_stop = sqlite_files(deployment.sqlite_path) if on_sqlite else {}

    if on_sqlite:
        assert any(name.endswith("-wal") for name in while_running), "the WAL was looked at"
    needles = [
        text.encode()
        for text in (
            f"canary-statement-{tag}",
            f"canary{tag}",
            f"canary-addendum-{tag}",
            f"canary-reply-{tag}",
            f"canary-file-reply-{tag}",
            f"canary-artist-{tag}",
            reporter_name,
            reporter_username,
            receipt,
            receipt.replace(" ", ""),
        )
    ] + identifier_forms(reporter_id)
    log = {str(deployment.log): deployment.log.read_bytes()}
    for files in (while_running, after_stop, log):
        assert_absent(files, needles)


async def test_report_without_a_verified_caseworker_waits_for_recovery_then_reassign(
    deployment: Deployment,
) -> None:
    api = deployment.api
    statement = f"canary-unassigned-{secrets.token_hex(5)}"
    caseworker_chat = api.open_chat(CASEWORKER_CHAT, "Amina", language_code="en")
    reporter = Reporter(api.open_chat(new_reporter_id(), "Salma", language_code="en"))

    async with deployment.bot():
        await begin(reporter)
        await answer_to_narrative(reporter)
        await reporter.say(statement, until=lambda m: bool(m.buttons))
        await finish_from_links(reporter)
        receipt_in(await reporter.press("Submit"))  # the receipt comes: the report is safe

        async with deployment.database() as db, db.sessionmaker() as session:
            report = (await session.scalars(select(Report))).one()
            wraps = (await session.scalars(select(WrapRow))).all()
            queued = (await session.scalars(select(OutboxEntry))).all()
        # I4: no verified caseworker, so the recovery key alone can open it, and nothing is sent.
        assert report.assigned_caseworker_id is None
        assert [w.recipient_key_id for w in wraps] == [deployment.org.recovery.public_key.key_id]
        assert queued == []

        caseworker = await deployment.enroll_and_approve(caseworker_chat, "amina")
        assert all(m.document is None for m in caseworker_chat.bot_messages())
        reassigned = await deployment.admin(
            "reassign",
            report.case_reference,
            "--to",
            "amina",
            "--recovery-key",
            deployment.recovery_key,
        )
        assert f"case {report.case_reference} assigned" in reassigned.stdout

        delivered = await sealed_file(caseworker_chat, f"{report.case_reference} #0")
        opened = await deployment.open_sealed(
            deployment.download(caseworker_chat, delivered), caseworker.key
        )
        assert f"{KEY_DESCRIPTION}: {statement}" in opened.stdout
