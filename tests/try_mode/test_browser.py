"""The ``sanad try`` page in a real browser: a whole report in Arabic, from /start to the reply,
and evidence attached as a person attaches it.

Headless Chromium (the system's ``chromium``, driven by Playwright) clicks and types as a person
would: the reporter files a report in Arabic (its statement starts with a number and still reads
right to left), the page keeps the receipt as they would write it down, the chat is erased (the
pop-up saying so stays in the page's log), the sealed file arrives in the caseworker's chat and is
opened by the real ``sanad caseworker open`` (and shown in the caseworker's desk), the caseworker
answers with ``/reply``, and the reporter reads the reply with ``/status`` and the receipt.
Another report carries a photo with a GPS position (file picker), a PDF with an author (dropped
on the window) and the sample voice note; the caseworker opens them with no position, no author
and no tags.

Screenshots are test artefacts: they go to ``$SANAD_TEST_ARTEFACTS/<test name>`` when that
variable names a folder (CI keeps it), else under the test's ``tmp_path``; the path is printed.
"""

from __future__ import annotations

import base64
import io
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import img2pdf
import pytest
from PIL import Image

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
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where this test's screenshots are kept (see the module docstring)."""
    root = os.environ.get("SANAD_TEST_ARTEFACTS")
    folder = Path(root) / request.node.name if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder


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


def start_report(reporter: Window, language: str, statement: str) -> None:
    """From /start to the statement: blackmail on Instagram, in Lebanon, in July 2025."""
    t = translator(language)
    reporter.type("/start")
    reporter.press(LANGUAGE_NAMES[language])
    reporter.press(t("I understand, continue"))
    reporter.press(t("No"))
    reporter.press(t("Blackmail or extortion"))
    reporter.press(t("Instagram"))
    reporter.press(country_name("LB", language))
    reporter.press("2025")
    reporter.press(month_name(7, language))
    reporter.type(statement)


def reads_right_to_left(bubble: Any) -> bool:
    """Whether the message is laid out right to left: its direction, and the number it starts
    with drawn at the right end of its first line, after the Arabic words in reading order."""
    return bool(bubble.evaluate("""m => {
        const text = m.querySelector('.text').firstChild;
        const at = (i) => { const r = document.createRange(); r.setStart(text, i);
                            r.setEnd(text, i + 1); return r.getBoundingClientRect(); };
        const number = at(0), word = at(text.data.indexOf(' ') + 1);
        return getComputedStyle(m).direction === 'rtl' && number.left > word.right;
    }"""))


def test_arabic_report_in_the_browser_from_start_to_reply(
    browser: Any, tmp_path: Path, shots: Path
) -> None:
    canary = secrets.token_hex(6)
    # Starts with a number: a bubble laid out by its first character would read left to right.
    statement = f"3 حسابات نشرت صوري مع اسمي وهددوني بالإبلاغ عني. {canary}"
    answer = f"تلقينا بلاغك وسنتواصل مع المنصة. {secrets.token_hex(6)}"

    with sanad_try(tmp_path / "try.log", "--reporter-language", "ar") as running:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(running.url)
        assert "demonstration" in page.locator(".demo").inner_text()
        reporter, caseworker = Window(page, "#reporter"), Window(page, "#caseworker")

        start_report(reporter, "ar", statement)
        typed = reporter.root.locator(".message.from-user", has_text=canary)
        # dir="auto" on the bubble: the Arabic statement is laid out right to left, number first.
        assert reads_right_to_left(typed)
        typed.screenshot(path=shots / "0-arabic-starting-with-a-number.png")
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
        # The pop-up the app showed for the press is kept in the page's log, right to left.
        notice = reporter.root.locator(".notice", has_text=_("This conversation has been deleted."))
        assert notice.evaluate("e => getComputedStyle(e).direction") == "rtl"
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


# Where the photo was taken, as a phone writes it into EXIF (Beirut).
GPS = {1: "N", 2: (33.0, 53.0, 37.0), 3: "E", 4: (35.0, 30.0, 6.0)}
_GPS_IFD = 0x8825


def photo_with_position() -> bytes:
    exif = Image.Exif()
    exif[_GPS_IFD] = GPS
    out = io.BytesIO()
    Image.new("RGB", (640, 480), "darkred").save(out, "JPEG", exif=exif)
    assert Image.open(io.BytesIO(out.getvalue())).getexif().get_ifd(_GPS_IFD)
    return out.getvalue()


def pdf_with_author(author: str) -> bytes:
    page = io.BytesIO()
    Image.new("RGB", (400, 560), "white").save(page, "JPEG")
    return bytes(img2pdf.convert(page.getvalue(), author=author))


def drop_file(window: Window, name: str, mime_type: str, content: bytes) -> None:
    """Drop a file on the window, as a file dragged from the desktop arrives."""
    transfer = window.page.evaluate_handle(
        """([name, type, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type}));
            return transfer;
        }""",
        [name, mime_type, base64.b64encode(content).decode()],
    )
    window.root.dispatch_event("drop", {"dataTransfer": transfer})


def test_evidence_attached_in_the_page_reaches_the_caseworker_clean(
    browser: Any, tmp_path: Path, shots: Path
) -> None:
    en = translator("en")
    author = f"Leila Haddad {secrets.token_hex(4)}"
    pdf = pdf_with_author(author)
    assert author.encode() in pdf
    sample = resources.files("bot.try_mode").joinpath("sample-voice.ogg").read_bytes()
    assert b"LOCATION=" in sample
    with sanad_try(tmp_path / "try.log", "--reporter-language", "en") as running:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(running.url)
        reporter, caseworker = Window(page, "#reporter"), Window(page, "#caseworker")
        start_report(reporter, "en", "They posted my photo and my address.")
        reporter.press(en("Skip"))  # links

        reporter.root.locator(".files").set_input_files(files=[
            {"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": photo_with_position()}])
        reporter.bot_says(en("File added. Files added so far: {count}.").format(count=1))
        drop_file(reporter, "threats.pdf", "application/pdf", pdf)
        reporter.bot_says(en("File added. Files added so far: {count}.").format(count=2))
        reporter.root.locator(".sample-voice").click()
        reporter.bot_says(en("File added. Files added so far: {count}.").format(count=3))
        photo = reporter.root.locator(".message.from-user .file", has_text="Photo")
        assert photo.count() == 1
        page.screenshot(path=shots / "1-attached.png", full_page=True)
        reporter.press(en("Done"))
        reporter.press(en("I reported it and they removed it"))
        reporter.press(en("Yes, I would like a reply"))
        reporter.press(en("No"))  # advocacy use
        reporter.press(en("Submit"))
        reporter.root.locator(".notebook .receipt").wait_for(timeout=STEP_MS)
        reporter.press(en("I have saved it"))

        caseworker.root.locator("button.open").first.click(timeout=DELIVERY_MS)
        output = caseworker.root.locator(".terminal .output")
        output.filter(has_text="Saved").wait_for(timeout=STEP_MS)
        page.screenshot(path=shots / "2-opened.png", full_page=True)
        assert "(exit status 0)" in caseworker.root.locator(".terminal .command").inner_text()
        # The caseworker's computer wrote the attachments there (beside its record of the files
        # it opened, a .json); the folder goes with the sandbox.
        saved = {path.suffix: path.read_bytes() for path in (running.folder / "opened").iterdir()
                 if path.suffix != ".json"}

    assert sorted(saved) == [".jpg", ".ogg", ".pdf"]
    cleaned_photo = Image.open(io.BytesIO(saved[".jpg"]))
    assert cleaned_photo.size == (640, 480)
    assert not cleaned_photo.getexif().get_ifd(_GPS_IFD)
    assert saved[".pdf"].startswith(b"%PDF")
    assert author.encode() not in saved[".pdf"]
    assert saved[".ogg"].startswith(b"OggS")
    assert b"LOCATION=" not in saved[".ogg"]
