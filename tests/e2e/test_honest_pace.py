"""``sanad run`` with the deployment's default limits: an honest reporter in a hurry is never
refused, and the process can write no core dump.

A whole report pressed through as fast as the bot answers, ten photos sent back to back as an
album, Submit, "I have saved it", then ``/status`` with the receipt — all inside a minute, on
the defaults of ``[limits]`` (the flood limit's burst, the evidence queue, the Argon2id lanes).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from bot.local_api import LocalBotApi
from handlers.choices import country_name, month_name
from handlers.i18n import LANGUAGE_NAMES, translator
from tests.handlers import samples
from tests.handlers.conftest import Reporter

from .conftest import Deployment, receipt_in

pytestmark = pytest.mark.slow

_ = translator("en")
ALBUM = 10


def core_dump_limits(pid: int) -> list[str]:
    """The soft and hard ``Max core file size`` of process ``pid``, from ``/proc``."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return line.split()[4:6]
    raise LookupError("no core file size limit listed")


async def test_a_whole_report_with_an_album_then_status_inside_a_minute_goes_through(
    api: LocalBotApi, tmp_path: Path
) -> None:
    deployment = Deployment(api, tmp_path, limits={})  # every [limits] key at its default
    async with deployment.bot() as bot:
        # I1: what the process holds in memory can never be dumped to disk.
        assert core_dump_limits(bot.pid) == ["0", "0"]
        reporter = Reporter(
            api.open_chat(7_300_000_000_000 + secrets.randbelow(10**9), "Salma", language_code="en")
        )
        chat = reporter.chat
        started = time.monotonic()
        await chat.send_command("start")
        await chat.wait_for(lambda m: bool(m.buttons))
        await reporter.press(LANGUAGE_NAMES["en"], translate=False)
        await reporter.press("I understand, continue")
        await reporter.press("No")
        await reporter.press("Blackmail or extortion")
        await reporter.press("Instagram")
        await reporter.press(country_name("LB", "en"), translate=False)
        await reporter.press("2025", translate=False)
        await reporter.press(month_name(7, "en"), translate=False)
        await reporter.say("They threatened me", until=lambda m: bool(m.buttons))
        await reporter.say("https://example.org/post/1", until=lambda m: bool(m.buttons))
        await reporter.press("Done")
        for _index in range(ALBUM):  # an album: the files arrive together, not one per answer
            await chat.send_photo(samples.jpeg_with_gps())
        added = _("File added. Files added so far: {count}.").format(count=ALBUM)
        await chat.wait_for(lambda m: (m.text or "").startswith(added), timeout=45, since=0)
        await reporter.press("Done")
        await reporter.press("I reported it and they removed it")
        await reporter.press("Yes, I would like a reply")
        await reporter.press("No")
        receipt = receipt_in(await reporter.press("Submit"))
        await chat.press_button(
            reporter.latest_with_buttons().message_id, text=_("I have saved it")
        )
        await chat.wait_until(lambda: not chat.messages(), timeout=10)
        await chat.send_command("status")
        await chat.wait_for()
        await chat.send_text(receipt)
        status = await chat.wait_for(lambda m: bool(m.buttons), timeout=15)
        elapsed = time.monotonic() - started
        assert _("Received, waiting for a caseworker") in (status.text or "")
        assert not any("too fast" in (m.text or "") for m in chat.bot_messages())
        assert elapsed < 60, f"the walk took {elapsed:.0f} s: it no longer tests a minute's pace"
