"""A report over Telegram's upload limit reaches its caseworker as signed parts (docs/crypto.md,
"Parts of a sealed report file"), through the real PTB Application against the local server.

The server's upload limit and the bot's part size are lowered (the same seams, the same rule:
a part must fit an upload), so the files stay small. On the old code such a report was sent whole,
refused with 413 at every attempt, and marked failed.

A file the server still refuses as too large (the bot's part size above the server's limit, as
behind a proxy with a smaller body limit than Telegram's) is refused the same way at every
attempt: it fails at its first, counted under its own reason, and is not sent again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import InputFile
from telegram.error import NetworkError

from bot.jobs.forward import Forwarder
from bot.local_api import Fault, LocalBotApi
from bot.services.sealed_files import part_caption, part_file_name
from bot.upload_limit import UploadTooLarge
from crypto import join_sealed_parts, open_sealed_file, read_sealed_part
from crypto.keyfile import MINIMUM, save_caseworker_key
from crypto.keys import OrganisationKeys
from storage.engine import Database
from storage.models import DeliveryStatus
from tests.support.calls import CallCounter

from .conftest import (
    EnrolledCaseworker,
    QueuedReport,
    caseworker_chat,
    enrol_caseworker,
    outbox_rows,
    queue_report,
)
from .test_forward import bot_application, documents, drain, failed_counts, fast_forwarder

UPLOAD_LIMIT = 16 * 1024
PART_BYTES = 12 * 1024  # a part's chunk; its other fields fit in what is left of the limit
EVIDENCE_BYTES = 40 * 1024
SANAD = Path(sys.executable).with_name("sanad")
PASSPHRASE = "a long enough test passphrase"


def open_files(files: list[Path], key_file: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``sanad caseworker open FILES... --key KEY --out OUT``, as a caseworker runs it."""
    return subprocess.run(
        [str(SANAD), "caseworker", "open", *map(str, files), "--key", str(key_file),
         "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "SANAD_PASSPHRASE": PASSPHRASE},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )  # fmt: skip


async def large_report_queued(
    api: LocalBotApi, org: OrganisationKeys, db: Database, chat_id: int
) -> tuple[EnrolledCaseworker, QueuedReport]:
    """A verified caseworker in ``chat_id`` and one report queued to them, its evidence larger
    than the server's upload limit."""
    await caseworker_chat(api, chat_id)
    caseworker = await enrol_caseworker(db, org, chat_id=chat_id)
    return caseworker, await queue_report(db, org, caseworker, evidence=os.urandom(EVIDENCE_BYTES))


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi.running(seed=11, max_upload_bytes=UPLOAD_LIMIT) as server:
        yield server


async def test_an_upload_over_the_limit_is_refused_with_413_as_telegram_does(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, _runtime):
        await caseworker_chat(api, 5101)
        with pytest.raises(UploadTooLarge) as refused:
            await application.bot.send_document(
                5101, InputFile(bytes(UPLOAD_LIMIT + 1), filename="big.sanad")
            )
        # A refusal, not a network failure that a retry might get past.
        assert not isinstance(refused.value, NetworkError)
        await application.bot.send_document(
            5101, InputFile(bytes(UPLOAD_LIMIT), filename="fits.sanad")
        )
        assert [m.document.file_name for m in documents(api.chat(5101)) if m.document] == [
            "fits.sanad"
        ]


async def test_a_file_the_server_refuses_as_too_large_fails_at_once_with_its_reason(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        await large_report_queued(api, org, db, 5106)
        calls = CallCounter(api)
        # The bot's own part size (45 MiB): the 40 KB file goes whole, over the server's limit.
        forwarder = fast_forwarder(application, runtime)

        counts = await forwarder.run()

        assert (counts.sent, counts.failed, counts.retrying) == (0, 1, 0)
        [row] = await outbox_rows(db)
        assert (row.status, row.attempts, row.last_error) == (
            DeliveryStatus.FAILED, 1, "UploadTooLarge"
        )  # fmt: skip
        # As `sanad admin status` shows it: failed 1 (UploadTooLarge: 1).
        assert await failed_counts(runtime) == {"UploadTooLarge": 1}
        assert "forward.upload_too_large" in caplog.text
        await forwarder.run()  # nothing is due any more: the server is not asked again
        assert calls["sendDocument"] == 1
        assert documents(api.chat(5106)) == []


def test_the_upload_limit_can_only_be_lowered() -> None:
    with pytest.raises(ValueError, match="at most Telegram's"):
        LocalBotApi(max_upload_bytes=50 * 1024 * 1024 + 1)


async def test_report_over_the_upload_limit_arrives_as_signed_parts_that_open(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        caseworker, report = await large_report_queued(api, org, db, 5102)
        forwarder = fast_forwarder(application, runtime, max_document_bytes=PART_BYTES)

        await drain(forwarder, db)

        chat = api.chat(5102)
        messages = documents(chat)
        count = len(messages)
        assert count >= 4  # 40 KB of evidence, 12 KB a part
        assert [m.caption for m in messages] == [
            part_caption(report.case_reference, 0, i, count) for i in range(count)
        ]
        assert messages[0].caption == f"{report.case_reference} #0 (part 1/{count})"
        names = [m.document.file_name for m in messages if m.document]
        assert names == [part_file_name(report.case_reference, 0, i, count) for i in range(count)]
        compact = report.case_reference.replace("-", "")
        assert names[0] == f"case-{compact}-0.part1of{count}.sanad"
        parts = [chat.download(m) for m in messages]
        for part in parts:
            assert len(part) <= UPLOAD_LIMIT
            # I9: each part on its own is signed by the certified bot.
            assert read_sealed_part(part, org.signing.public_key).report_id == report.report_id
        opened = open_sealed_file(
            join_sealed_parts(parts, org.signing.public_key),
            caseworker.keys.encryption,
            org.signing.public_key,
        )
        assert opened.body.answer("incident.description") == report.canary
        assert len(opened.body.attachments[0].data) == EVIDENCE_BYTES
        [row] = await outbox_rows(db)
        assert (row.status, row.attempts) == (DeliveryStatus.SENT, 0)


async def test_a_failure_between_parts_sends_every_part_again_and_they_still_join(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        caseworker, report = await large_report_queued(api, org, db, 5103)
        # The first part goes through, the second meets a server error.
        api.faults.inject("sendDocument", sequence=[None, Fault.server_error()])
        forwarder = fast_forwarder(application, runtime, max_document_bytes=PART_BYTES)

        await drain(forwarder, db)

        messages = documents(api.chat(5103))
        first = messages[0]
        count = len(messages) - 1
        # I8: the set is sent again whole, so the first part arrives twice, the same bytes
        # under the same name and caption.
        assert [m.caption for m in messages] == [
            first.caption,
            *(part_caption(report.case_reference, 0, i, count) for i in range(count)),
        ]
        parts = [api.chat(5103).download(m) for m in messages]
        assert parts[0] == parts[1]
        joined = join_sealed_parts(parts, org.signing.public_key)
        opened = open_sealed_file(joined, caseworker.keys.encryption, org.signing.public_key)
        assert opened.body.answer("incident.description") == report.canary
        [row] = await outbox_rows(db)
        assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)


@pytest.mark.slow
async def test_parts_from_the_chat_open_with_the_caseworker_command(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        caseworker, report = await large_report_queued(api, org, db, 5104)
        await drain(fast_forwarder(application, runtime, max_document_bytes=PART_BYTES), db)
        downloads = tmp_path / "Downloads"
        downloads.mkdir()
        chat = api.chat(5104)
        for message in documents(chat):
            assert message.document is not None
            assert message.document.file_name is not None
            (downloads / message.document.file_name).write_bytes(chat.download(message))
    key_file = tmp_path / "me.key"
    save_caseworker_key(
        key_file, caseworker.keys, "Amira", PASSPHRASE, organisation=org.signing.public_key,
        kdf=MINIMUM,
    )  # fmt: skip
    out = tmp_path / "opened"
    result = await asyncio.to_thread(open_files, sorted(downloads.iterdir()), key_file, out)
    assert result.returncode == 0, result.stderr
    assert report.canary in result.stdout
    assert (out / "evidence.bin").stat().st_size == EVIDENCE_BYTES


async def test_a_claim_lost_between_parts_stops_the_set_and_the_next_claim_sends_it_whole(
    api: LocalBotApi, org: OrganisationKeys, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_application(api, org, tmp_path) as (application, runtime):
        db = runtime.database
        caseworker, report = await large_report_queued(api, org, db, 5105)
        chat = api.chat(5105)
        settings = fast_forwarder(application, runtime, max_document_bytes=PART_BYTES).settings

        def clock() -> dt.datetime:
            # Once the first part is out, time jumps past the claim's lease, as a process that
            # stalled would find it: the claim cannot be renewed for the next part, and the row
            # is due to whoever claims it next (here, the same forwarder's next pass).
            now = dt.datetime.now(dt.UTC)
            return now + settings.lease + dt.timedelta(seconds=1) if documents(chat) else now

        forwarder = Forwarder(
            db,
            application.bot,
            settings,
            org_key=runtime.config.organisation.signing_public_key,
            identity=runtime.bot,
            clock=clock,
        )
        counts = await forwarder.run()

        assert counts.sent == 1
        assert "forward.claim_lost" in caplog.text
        messages = documents(chat)
        count = len(messages) - 1
        # Part 1 alone, then the whole set again under the new claim (I8: recognisable).
        assert [m.caption for m in messages] == [
            part_caption(report.case_reference, 0, 0, count),
            *(part_caption(report.case_reference, 0, i, count) for i in range(count)),
        ]
        parts = [chat.download(m) for m in messages]
        joined = join_sealed_parts(parts, org.signing.public_key)
        opened = open_sealed_file(joined, caseworker.keys.encryption, org.signing.public_key)
        assert opened.body.answer("incident.description") == report.canary
        [row] = await outbox_rows(db)
        assert (row.status, row.attempts) == (DeliveryStatus.SENT, 0)
