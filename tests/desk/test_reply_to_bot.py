"""A reply written in the desk reaches the reporter: the running bot accepts the file, and the
reporter reads it with ``/status``.

The whole chain is real: the bot is ``sanad run`` against the local Bot API server, the caseworker
enrols with the real ``sanad caseworker init`` key file and is approved by the admin command, the
reporter files a report in Arabic, the forward job delivers the sealed file, which is saved into
the caseworker's Downloads folder; ``sanad desk`` finds it there, and Chromium opens the case and
writes the reply in the composer. The reply file the desk wrote is uploaded to the bot's chat as
a caseworker drags it there.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest

from bot.local_api import LocalBotApi
from tests.desk.browser import STEP_MS, desk_page, playwright_sync_api
from tests.desk.conftest import running_desk
from tests.e2e.conftest import PASSPHRASE, Deployment
from tests.e2e.test_story import check_status, file_report, leave_after_saving, new_reporter_id
from tests.handlers import samples
from tests.handlers.conftest import Reporter

pytestmark = pytest.mark.slow

sync_api: Any = playwright_sync_api()
CASEWORKER_CHAT = 6_100_200_301


@pytest.fixture
async def api() -> Any:
    async with LocalBotApi.running(seed=12) as server:
        yield server


def _reply_in_the_browser(url: str, reference: str, text: str) -> str:
    """Open the case in the desk and write the reply; returns what the page says to do next."""
    with desk_page(sync_api, url) as opened:
        page = opened.page
        page.locator(f'tr.case[data-reference="{reference}"] a').click()
        page.wait_for_url(f"**/case/{reference}", timeout=STEP_MS)
        page.locator(".reply textarea").fill(text)
        with page.expect_navigation(timeout=STEP_MS):
            page.locator(".reply button[type=submit]").click()
        shown = page.locator(".written, .error")
        written: str = shown.inner_text()
        assert "written" in (shown.get_attribute("class") or ""), written
        assert all(u.startswith(url.split("/?")[0]) for u in opened.requested)
        return written


async def test_a_reply_written_in_the_desk_is_accepted_by_the_bot_and_read_with_status(
    api: LocalBotApi, tmp_path: Path
) -> None:
    (tmp_path / "server").mkdir()
    deployment = Deployment(api, tmp_path / "server")
    tag = secrets.token_hex(4)
    reply_text = f"وصلنا بلاغك ونعمل عليه canary-desk-reply-{tag}"
    caseworker_chat = api.open_chat(CASEWORKER_CHAT, "Amina", language_code="en")
    reporter = Reporter(api.open_chat(new_reporter_id(), "R", language_code="ar"), "ar")
    laptop = tmp_path / "laptop"

    async with deployment.bot():
        caseworker = await deployment.enroll_and_approve(caseworker_chat, "amina")
        receipt = await file_report(
            reporter, f"canary-desk-{tag}", "https://example.org/x", samples.jpeg_with_gps()
        )
        await leave_after_saving(reporter)
        delivered = await caseworker_chat.wait_for(
            lambda m: m.document is not None, timeout=30, since=0
        )
        assert delivered.document is not None
        assert delivered.caption is not None
        reference = delivered.caption.split(" ")[0]
        downloads = laptop / "Downloads"
        downloads.mkdir(parents=True)
        (downloads / str(delivered.document.file_name)).write_bytes(
            caseworker_chat.download(delivered)
        )

        with running_desk(caseworker.key, laptop, passphrase=PASSPHRASE) as desk:
            said = await asyncio.to_thread(_reply_in_the_browser, desk.url, reference, reply_text)
        reply_file = downloads / f"reply-{reference.replace('-', '')}-1.sanad"
        assert reply_file.name in said
        await caseworker_chat.send_document(
            reply_file.read_bytes(), reply_file.name, "application/octet-stream"
        )
        await caseworker_chat.wait_for(lambda m: f"Reply 1 to {reference}" in (m.text or ""))
        await check_status(reporter, receipt, reply_text)
