"""The desk in a real browser: three reports (Arabic, French, English) with a photo, a PDF and a
voice note are dropped in, listed and opened; a forged file is shown as refused.

Headless Chromium (the system's, driven by Playwright) drops the files onto the page as a
caseworker drags them from a folder. The Arabic case page is checked to be laid out right to
left and kept as a screenshot under the test's ``tmp_path`` (the path is printed); the picture
must have been decoded, the voice note must be playable with its real length, each PDF page must
be shown as a picture. Every request the page made must have gone to the desk on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crypto import Attachment, AttachmentKind
from crypto.file_names import delivery_file_name
from crypto.keys import OrganisationKeys
from desk.casebook import TOO_LARGE
from desk.i18n import translator
from tests.desk.browser import STEP_MS, desk_page, playwright_sync_api
from tests.desk.conftest import PASSPHRASE, Caseworker, pdf, photo, running_desk, voice
from tests.support.signed_files import BotSigner

pytestmark = pytest.mark.slow

sync_api: Any = playwright_sync_api()

VOICE_SECONDS = 3
PDF_PAGES = 2
REPORTS = {
    "ar": ("A1R-0001", "نشروا صوري مع اسمي وهددوني بالإبلاغ عني", "LB", "blackmail"),
    "fr": ("F2R-0002", "Un faux profil m'a donné rendez-vous, puis la police est venue", "TN",
           "entrapment"),
    "en": ("E3N-0003", "They posted my address under my photos", "JO", "doxxing"),
}  # fmt: skip


def _report(caseworker: Caseworker, language: str) -> bytes:
    reference, narrative, country, incident = REPORTS[language]
    return caseworker.sealed(
        reference,
        [("reporter.language", language), ("incident.type", incident),
         ("incident.platform", "instagram"), ("incident.country", country),
         ("incident.description", narrative), ("incident.link", "https://example.org/p/1")],
        [Attachment("evidence-1.jpg", "image/jpeg", AttachmentKind.PHOTO, photo()),
         Attachment("evidence-2.pdf", "application/pdf", AttachmentKind.DOCUMENT, pdf(PDF_PAGES)),
         Attachment("voice.ogg", "audio/ogg", AttachmentKind.VOICE, voice(VOICE_SECONDS))],
    )  # fmt: skip


def test_three_reports_dropped_listed_and_opened_in_the_browser(
    caseworker: Caseworker, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"screenshots of the desk: {shots}")
    files = {
        delivery_file_name(REPORTS[language][0], 0): _report(caseworker, language)
        for language in REPORTS
    }
    impostor = BotSigner.certified_by(OrganisationKeys.generate().signing)
    files["case-Z9Z0000-0.sanad"] = caseworker.sealed(
        "Z9Z-0000", [("incident.description", "forged")], bot=impostor
    )

    with (
        running_desk(caseworker.key_file, tmp_path) as desk,
        desk_page(sync_api, desk.url) as opened,
    ):
        page = opened.page
        opened.drop(files)
        rows = page.locator("table.cases tr.case")
        assert rows.count() == 3
        assert page.locator(".refusal .file-name").inner_text() == "case-Z9Z0000-0.sanad"
        assert page.locator(".refusal .reason").inner_text().startswith("Not sent by your")
        assert page.locator(".refusal .detail").inner_text().startswith("refused: ")
        assert page.locator('tr.case[data-reference="Z9Z-0000"]').count() == 0
        page.screenshot(path=shots / "1-inbox-en.png", full_page=True)

        with page.expect_navigation(timeout=STEP_MS):
            page.select_option("select[name=lang]", "ar")
        assert page.evaluate("document.documentElement.dir") == "rtl"
        page.locator(f'tr.case[data-reference="{REPORTS["ar"][0]}"] a').click()
        page.wait_for_url(f"**/case/{REPORTS['ar'][0]}", timeout=STEP_MS)
        _check_case_page(page, REPORTS["ar"][1])
        answers = page.locator("dl.answers").first
        assert answers.evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert page.locator("dt", has_text="نوع الحادثة").count() == 1
        assert page.locator("dd", has_text="ابتزاز").count() == 1
        page.screenshot(path=shots / "2-case-ar.png", full_page=True)

        for language in ("fr", "en"):
            page.goto(f"{desk.origin}/case/{REPORTS[language][0]}?lang={language}")
            _check_case_page(page, REPORTS[language][1])
            assert page.evaluate("document.documentElement.dir") == "ltr"
        page.screenshot(path=shots / "3-case-en.png", full_page=True)

        page.goto(f"{desk.origin}/")
        assert page.locator("tr.case.state-new").count() == 0  # all three read
        assert all(url.startswith(f"{desk.origin}/") for url in opened.requested), [
            url for url in opened.requested if not url.startswith(f"{desk.origin}/")
        ]


def _check_case_page(page: Any, narrative: str) -> None:
    """The narrative as written, the picture decoded, the voice note's length, the PDF pages."""
    text = page.locator(".user-text", has_text=narrative)
    assert text.count() == 1
    assert text.evaluate("e => e.tagName") == "BDI"
    picture = page.locator(".kind-photo img")
    picture.wait_for(timeout=STEP_MS)
    page.wait_for_function(
        "e => e.complete && e.naturalWidth > 0", arg=picture.element_handle(), timeout=STEP_MS
    )
    audio = page.locator("audio")
    page.wait_for_function(
        "a => a.readyState >= 1 && isFinite(a.duration)", arg=audio.element_handle(),
        timeout=STEP_MS,
    )
    assert abs(audio.evaluate("a => a.duration") - VOICE_SECONDS) < 0.1
    assert audio.evaluate("a => a.error") is None
    pages = page.locator("img.pdf-page")
    assert pages.count() == PDF_PAGES
    for index in range(PDF_PAGES):
        page.wait_for_function(
            "e => e.complete && e.naturalWidth > 0", arg=pages.nth(index).element_handle(),
            timeout=STEP_MS,
        )
    link = page.locator(".link-answer")
    assert link.locator("a").count() == 0  # shown as text, never as a link
    assert link.locator("button.copy").count() == 1


def test_an_idle_page_hides_the_case_and_locks_the_desk(
    caseworker: Caseworker, tmp_path: Path
) -> None:
    reference, narrative = REPORTS["en"][0], REPORTS["en"][1]
    with running_desk(caseworker.key_file, tmp_path, "--lock-after", "0.1") as desk:  # 6 s
        caseworker.save(desk.inbox, reference, _report(caseworker, "en"))
        with desk_page(sync_api, desk.url) as opened:
            page = opened.page
            # What was served, not what is on screen by now: on a loaded machine the idle lock
            # may already have taken the page away before a locator looks.
            shown = page.goto(f"{desk.origin}/case/{reference}")
            assert shown is not None
            assert narrative in shown.text()
            page.wait_for_url(f"{desk.origin}/unlock", timeout=STEP_MS)
            assert narrative not in page.content()
            page.fill("input[name=passphrase]", PASSPHRASE)
            with page.expect_navigation(timeout=STEP_MS):
                page.click(".unlock button[type=submit]")
            assert page.locator(f'tr.case[data-reference="{reference}"]').count() == 1


def test_a_file_over_the_bound_is_listed_as_refused_without_being_sent(
    caseworker: Caseworker, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.sanad"
    with huge.open("wb") as file:
        file.truncate(1 << 30)  # a gigabyte (sparse: it takes no room on the disk)
    reference = REPORTS["fr"][0]
    genuine = tmp_path / delivery_file_name(reference, 0)
    genuine.write_bytes(_report(caseworker, "fr"))
    with (
        running_desk(caseworker.key_file, tmp_path) as desk,
        desk_page(sync_api, desk.url) as opened,
    ):
        page = opened.page
        page.goto(f"{desk.origin}/?lang=fr")
        drops: list[Any] = []
        page.on("request", lambda request: request.url.endswith("/drop") and drops.append(request))
        with page.expect_navigation(timeout=STEP_MS):
            page.set_input_files("#pick", [huge, genuine])
        assert page.locator(".refusal .file-name").all_inner_texts() == ["huge.sanad"]
        assert page.locator(".refusal .reason").inner_text() == translator("fr")(TOO_LARGE)
        assert page.locator(f'tr.case[data-reference="{reference}"]').count() == 1
        sent = {request.headers["x-file-name"]: request for request in drops}
        assert sent["huge.sanad"].headers["x-file-size"] == str(1 << 30)
        assert not sent["huge.sanad"].post_data_buffer  # its name and size, none of its bytes
