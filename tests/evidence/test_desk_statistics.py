"""The desk's statistics page in a real browser, in English and Arabic, and its "Package this
case" button.

Eight consented reports and two that are not are saved into the desk's inbox folder; headless
Chromium (the system's, through Playwright) opens the statistics page: every chart must have
been drawn and decoded, the page must name how many reports it counts and say that these are
documented cases, in each language (right to left in Arabic), and nothing of the non-consented
reports or of any free text may appear. A case's package is then downloaded and checked with
`sanad verify-package`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crypto.file_names import delivery_file_name
from tests.cli.test_key_commands import sanad
from tests.desk.browser import STEP_MS, desk_page, playwright_sync_api
from tests.desk.conftest import Caseworker, caseworker, running_desk  # noqa: F401 (fixture)
from tests.evidence.advocacy_data import FREE_TEXT, make_cases

pytestmark = pytest.mark.slow

sync_api: Any = playwright_sync_api()

CASES = make_cases(8, 2, seed=5)
DIMENSIONS = ("incident_type", "platform", "country", "month", "platform_response")


def test_statistics_page_shows_the_charts_in_english_and_arabic_and_a_case_is_packaged(
    caseworker: Caseworker,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "Downloads"
    for case in CASES:
        answers = [(a.key, a.value) for a in case.body.answers]
        caseworker.save(inbox, case.reference, caseworker.sealed(case.reference, answers))

    with (
        running_desk(caseworker.key_file, tmp_path) as desk,
        desk_page(sync_api, desk.url) as opened,
    ):
        page = opened.page
        assert page.locator("table.cases tr.case").count() == len(CASES)
        page.click('a[href="/statistics"]')
        for language, title, count in (
            ("en", "Advocacy statistics", "8 consented reports"),
            ("ar", "إحصاءات المناصرة", "8 بلاغًا بموافقة أصحابها"),
        ):
            page.goto(f"{desk.origin}/statistics?lang={language}")
            assert page.locator("html").get_attribute("dir") == (
                "rtl" if language == "ar" else "ltr"
            )
            assert page.locator("h1").inner_text() == title
            assert page.locator(".about .reports").inner_text() == count
            assert " – " in page.locator(".about .range").inner_text()
            charts = page.locator("img.chart")
            assert charts.count() == len(DIMENSIONS)
            page.wait_for_function(
                "() => [...document.querySelectorAll('img.chart')]"
                ".every(i => i.complete && i.naturalWidth > 0)",
                timeout=STEP_MS,
            )
            text = page.locator("main").inner_text()
            assert FREE_TEXT not in text
            assert "tiktok" not in text.lower()
            page.screenshot(path=tmp_path / f"statistics-{language}.png", full_page=True)
            # The page's charts speak its language (SVG text: the browser shapes the Arabic).
            svg = page.request.get(f"{desk.origin}/statistics/files/chart-platform.svg").text()
            assert count in svg
            assert ("ليست مقياسًا" if language == "ar" else "not a measure of prevalence") in svg
        exported = page.request.get(
            f"{desk.origin}/statistics/files/chart-platform.svg?download=1"
        ).text()
        assert "8 reports" in exported
        assert "not a measure of prevalence" in exported

        reference = CASES[0].reference
        page.goto(f"{desk.origin}/case/{reference}?lang=en")
        with page.expect_download(timeout=STEP_MS) as download:
            page.click("text=Package this case")
        package = tmp_path / "package.zip"
        download.value.save_as(package)
        assert opened.requested
        assert all(url.startswith(desk.origin) for url in opened.requested)

    checked = sanad("verify-package", package)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert delivery_file_name(reference, 0) in checked.stdout
