"""The ``sanad try`` page in a real browser: a whole report in Arabic, from /start to the reply.

Headless Chromium (the system's ``chromium``, driven by Playwright) clicks and types as a person
would: the reporter files a report in Arabic, the page keeps the receipt as they would write it
down, the chat is erased, the sealed file arrives in the caseworker's chat and is opened by the
real ``sanad caseworker open`` (and shown in the caseworker's desk), the caseworker answers with
``/reply``, and the reporter reads the reply with ``/status`` and the receipt. Screenshots of the
Arabic flow are saved under the test's ``tmp_path`` (the path is printed).
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handlers.choices import country_name, month_name
from handlers.i18n import LANGUAGE_NAMES, translator
from tests.try_mode.conftest import sanad_try

pytestmark = pytest.mark.slow

# Debian's chromium package; Playwright's own browser download is not used.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# The bot's answers are quick; the sealed file waits for a delivery batch (a few seconds).
STEP_MS = 15_000
DELIVERY_MS = 45_000

_ = translator("ar")
RECEIPT_PROMPT = (
    "Please send your receipt: the 28 digits you received when you submitted your "
    "report. Spaces and dashes do not matter."
)

sync_api: Any = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
)
if not Path(CHROMIUM).exists():
    pytest.skip("no Chromium browser: install Debian's chromium package", allow_module_level=True)


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Window:
    """One chat window of the page, used by clicking its buttons and typing into its box."""

    def __init__(self, page: Any, selector: str) -> None:
        self.page = page
        self.root = page.locator(selector)

    def press(self, label: str) -> None:
        """Click the button labelled exactly ``label``; return once its keyboard is redrawn."""
        exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
        button = self.root.locator(".keyboard button:enabled").filter(has_text=exact).last
        handle = button.element_handle(timeout=STEP_MS)
        handle.click()
        # The bot edits the pressed message into the next step (or erases it), and the
        # page redraws an edited message: the clicked button leaves the page either way.
        self.page.wait_for_function("b => !b.isConnected", arg=handle, timeout=STEP_MS)

    def type(self, text: str) -> None:
        box = self.root.locator(".composer input")
        box.fill(text)
        box.press("Enter")
        self.page.wait_for_function("b => b.value === ''", arg=box.element_handle(),
                                    timeout=STEP_MS)

    def bot_says(self, pattern: str) -> Any:
        """The bot's message whose text contains ``pattern`` (waits for it)."""
        found = self.root.locator(".message.from-bot .text", has_text=pattern).last
        found.wait_for(timeout=STEP_MS)
        return found


def test_arabic_report_in_the_browser_from_start_to_reply(browser: Any, tmp_path: Path) -> None:
    canary = secrets.token_hex(6)
    statement = f"نشروا صوري مع اسمي وهددوني بالإبلاغ عني. {canary}"
    answer = f"تلقينا بلاغك وسنتواصل مع المنصة. {secrets.token_hex(6)}"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"screenshots of the Arabic flow: {shots}")

    with sanad_try(tmp_path / "try.log", "--reporter-language", "ar") as running:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(running.url)
        assert "demonstration" in page.locator(".demo").inner_text()
        reporter, caseworker = Window(page, "#reporter"), Window(page, "#caseworker")

        reporter.type("/start")
        reporter.press(LANGUAGE_NAMES["ar"])
        reporter.press(_("I understand, continue"))
        reporter.press(_("No"))
        reporter.press(_("Blackmail or extortion"))
        reporter.press(_("Instagram"))
        reporter.press(country_name("LB", "ar"))
        reporter.press("2025")
        reporter.press(month_name(7, "ar"))
        reporter.type(statement)
        typed = reporter.root.locator(".message.from-user .text", has_text=canary)
        # dir="auto" on the bubble: the Arabic statement is laid out right to left.
        assert typed.evaluate("e => getComputedStyle(e).direction") == "rtl"
        reporter.press(_("Skip"))  # links
        reporter.press(_("Skip"))  # files
        reporter.press(_("I reported it and they removed it"))
        reporter.press(_("Yes, I would like a reply"))
        reporter.press(_("No"))  # advocacy use
        page.screenshot(path=shots / "1-review.png", full_page=True)
        reporter.press(_("Submit"))

        notebook = reporter.root.locator(".notebook .receipt")
        notebook.wait_for(timeout=STEP_MS)
        receipt = notebook.inner_text()
        assert re.fullmatch(r"\d{4}( \d{4}){6}", receipt)
        page.screenshot(path=shots / "2-receipt.png", full_page=True)
        reporter.press(_("I have saved it"))
        page.wait_for_function(
            "() => document.querySelectorAll('#reporter .message').length === 0",
            timeout=STEP_MS,
        )
        page.screenshot(path=shots / "3-erased.png", full_page=True)

        caseworker.root.locator("button.open").first.click(timeout=DELIVERY_MS)
        output = caseworker.root.locator(".terminal .output")
        output.filter(has_text=canary).wait_for(timeout=STEP_MS)
        assert "(exit status 0)" in caseworker.root.locator(".terminal .command").inner_text()
        match = re.search(r"^Case: (\S+)$", output.inner_text(), re.MULTILINE)
        assert match is not None
        case = match.group(1)
        page.screenshot(path=shots / "4-opened.png", full_page=True)
        # The Open button also put the case on the caseworker's desk: the real thing.
        desk_url = caseworker.root.locator(".terminal .desk a").get_attribute("href")
        desk = browser.new_page()
        desk.goto(desk_url)
        desk.locator(".user-text", has_text=canary).wait_for(timeout=STEP_MS)
        assert desk.locator("audio, .kind-photo img").count() == 0  # no files in this report
        desk.screenshot(path=shots / "4b-desk.png", full_page=True)
        desk.close()

        caseworker.type(f"/reply {case} {answer}")
        caseworker.bot_says(f"to {case} is sealed and stored")

        reporter.type("/status")
        reporter.bot_says(_(RECEIPT_PROMPT))
        reporter.root.locator(".notebook .use-receipt").click()
        reporter.root.locator(".composer button[type=submit]").click()
        reply = reporter.bot_says(answer)
        assert _("Replies from your caseworker:") in reply.inner_text()
        assert reply.evaluate("e => getComputedStyle(e).direction") == "rtl"
        page.screenshot(path=shots / "5-reply.png", full_page=True)
