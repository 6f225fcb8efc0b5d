""" "Package this case" with a damaged custody log: the desk explains, in the caseworker's
language, that the log could not be verified and what to do, makes no package, and leaves the
log byte for byte as it was.

The log is written with the caseworker's real keys beside their key file and damaged in the ways
of :mod:`tests.evidence.custody_damage`; the desk runs as the real command, and the request is
the one the case page's button makes.
"""

from __future__ import annotations

import html
import os
import urllib.error
from pathlib import Path

import pytest

from desk.evidence.custody import LOG_NAME
from tests.desk.conftest import Browser, Caseworker, RunningDesk, running_desk
from tests.evidence.custody_damage import DAMAGES, damaged_log_beside

pytestmark = pytest.mark.slow

CASE = "K7Q-4M2P"
ANSWERS = [("incident.type", "blackmail")]
TITLES = {
    "en": "The custody log could not be verified",
    "fr": "Le journal de traçabilité n'a pas pu être vérifié",
    "ar": "تعذّر التحقق من سجل سلسلة الحيازة",
}
# What the page must say in every language: no package, nothing lost, whom to tell.
ENGLISH = ("Do not package or export this case", "No package was made", "tell an admin")


def _post(browser: Browser, path: str) -> tuple[int, str, str]:
    """Status, content type and body of a POST, whether the desk accepted it or not."""
    try:
        with browser.opener.open(browser.desk.origin + path, b"", timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers["Content-Type"], answer.read().decode()


def _sign_in(desk: RunningDesk) -> Browser:
    browser = Browser(desk)
    status, _ = browser.get(f"/?token={desk.token}")
    assert status == 200
    return browser


@pytest.mark.parametrize("how", list(DAMAGES))
def test_a_damaged_custody_log_is_explained_in_each_language_and_left_as_it_is(
    caseworker: Caseworker, tmp_path: Path, how: str
) -> None:
    log = damaged_log_beside(caseworker.key_file, caseworker.keys, CASE, how)
    damaged = log.read_bytes()
    caseworker.save(tmp_path / "Downloads", CASE, caseworker.sealed(CASE, ANSWERS))

    with running_desk(caseworker.key_file, tmp_path) as desk:
        browser = _sign_in(desk)
        for language, title in TITLES.items():
            browser.get(f"/?lang={language}")
            status, kind, answer = _post(browser, f"/case/{CASE}/package")
            assert status == 409, answer
            page = html.unescape(answer)
            assert kind.startswith("text/html")
            assert f'<html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}">' in page
            assert f"<h1>{title}</h1>" in page
            assert str(log) in page  # which file to keep, and show an admin
            for sentence in ENGLISH:
                assert (sentence in page) == (language == "en"), (language, sentence)
            assert f'href="/case/{CASE}"' in page
        # Nothing else on the desk was touched: the case is still there to read.
        browser.get("/?lang=en")
        status, page = browser.get(f"/case/{CASE}")
        assert status == 200
        assert "Blackmail / extortion" in page

    assert log.read_bytes() == damaged
    assert "request_failed" not in desk.log.read_text()


UNWRITTEN = {
    "en": "The custody log could not be written",
    "fr": "Le journal de traçabilité n'a pas pu être écrit",
    "ar": "تعذّرت الكتابة في سجل سلسلة الحيازة",
}


def _unwritable(log: Path, how: str) -> None:
    """Make ``log`` impossible to write, as a read-only folder or a missing medium does."""
    if how == "read-only folder":
        if os.name != "posix" or os.geteuid() == 0:
            pytest.skip("only a POSIX account other than root is stopped by a folder's mode")
        log.parent.chmod(0o500)
    else:  # a link to a folder that is gone (an unplugged drive): it reads as no log yet
        try:
            log.symlink_to(log.parent / "unplugged" / LOG_NAME)
        except OSError:
            pytest.skip("this account may not make symbolic links (Windows without privilege)")


@pytest.mark.parametrize("how", ["read-only folder", "missing folder"])
def test_a_custody_log_that_cannot_be_written_is_explained_and_no_package_is_given(
    caseworker: Caseworker, tmp_path: Path, how: str
) -> None:
    log = caseworker.key_file.parent / LOG_NAME
    caseworker.save(tmp_path / "Downloads", CASE, caseworker.sealed(CASE, ANSWERS))
    with running_desk(caseworker.key_file, tmp_path) as desk:
        browser = _sign_in(desk)
        _unwritable(log, how)
        try:
            for language, title in UNWRITTEN.items():
                browser.get(f"/?lang={language}")
                status, kind, answer = _post(browser, f"/case/{CASE}/package")
                assert status == 500, answer
                assert kind.startswith("text/html")
                page = html.unescape(answer)
                assert f"<h1>{title}</h1>" in page
                assert str(log.parent) in page  # which folder to make writable
                said = "No package was downloaded or saved" in page
                assert said == (language == "en"), language
                assert f'href="/case/{CASE}"' in page
        finally:
            log.parent.chmod(0o700)
        # Once the folder can be written, the same button gives the package.
        if log.is_symlink():
            log.unlink()
        with browser.opener.open(f"{desk.origin}/case/{CASE}/package", b"", timeout=30) as zipped:
            assert (zipped.status, zipped.headers["Content-Type"]) == (200, "application/zip")
            assert zipped.read().startswith(b"PK")
    assert "request_failed" not in desk.log.read_text()
