"""A case read in the desk is in its chain of custody: the first view of a case in each unlocked
session is an ``opened`` record in the custody log beside the key file, as ``sanad caseworker
open`` makes, and an evidence package made afterwards states it. A log that cannot be verified or
written does not hide the case: the page says, in the desk's language, that this view was not
recorded and where the log is, and a damaged log is left byte for byte as it was.

The desk runs as the real command; the log is read back with the caseworker's real keys.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import zipfile
from pathlib import Path

import pytest

from desk.evidence.custody import LOG_NAME, OPENED, CustodyLog
from desk.i18n import translator
from tests.desk.conftest import PASSPHRASE, Browser, Caseworker, RunningDesk, running_desk
from tests.evidence.custody_damage import damaged_log_beside

pytestmark = pytest.mark.slow

CASE = "K7Q-4M2P"
ANSWERS = [("incident.type", "blackmail")]
NOT_RECORDED = (
    "This view of the case was not recorded in the custody log, so an evidence package will not "
    "show it."
)
UNVERIFIED = (
    "The log could not be verified. Do not package or export this case until an admin has "
    "looked; keep the log as it is (do not delete, edit or replace it):"
)
UNWRITTEN = "The log could not be written"


def _opens(caseworker: Caseworker) -> list[dt.datetime]:
    """When the log beside the key file says the case was opened."""
    log = CustodyLog.beside(caseworker.key_file, caseworker.keys)
    return [event.at for event in log.events(CASE) if event.event == OPENED]


def _view(browser: Browser, language: str = "en") -> str:
    """The case page in ``language``, unescaped; it must be shown whatever the log says."""
    browser.get(f"/?lang={language}")
    status, page = browser.get(f"/case/{CASE}")
    assert status == 200
    assert f"{CASE}</bdi>" in page
    return html.unescape(page)


def _sign_in(caseworker: Caseworker, desk: RunningDesk) -> Browser:
    """A browser with the session cookie, the case taken from the inbox folder."""
    caseworker.save(desk.inbox, CASE, caseworker.sealed(CASE, ANSWERS))
    browser = Browser(desk)
    assert browser.get(f"/?token={desk.token}")[0] == 200
    return browser


def test_a_case_viewed_in_the_desk_is_logged_once_per_unlocked_session(
    caseworker: Caseworker, desk: RunningDesk
) -> None:
    browser = _sign_in(caseworker, desk)
    assert _opens(caseworker) == []  # the case list opens nothing
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    page = _view(browser)
    [first] = _opens(caseworker)
    assert before <= first <= dt.datetime.now(dt.UTC)
    assert first.utcoffset() == dt.timedelta(0)
    assert NOT_RECORDED not in page

    _view(browser)  # a reload
    browser.post(f"/case/{CASE}/note", text="called the reporter back")  # back to the page
    assert _opens(caseworker) == [first]

    browser.post("/lock")
    browser.post("/unlock", passphrase=PASSPHRASE)
    _view(browser)
    _view(browser)
    assert len(_opens(caseworker)) == 2


@pytest.mark.parametrize("how", ["cut short", "record signed by another key"])
def test_a_view_with_a_damaged_log_is_shown_with_a_warning_and_the_log_left_as_it_is(
    caseworker: Caseworker, tmp_path: Path, how: str
) -> None:
    log = damaged_log_beside(caseworker.key_file, caseworker.keys, CASE, how)
    damaged = log.read_bytes()
    with running_desk(caseworker.key_file, tmp_path) as desk:
        browser = _sign_in(caseworker, desk)
        for language in ("ar", "fr", "en"):
            _ = translator(language)
            page = _view(browser, language)
            assert f'<html lang="{language}"' in page
            assert _(NOT_RECORDED) in page
            assert _(UNVERIFIED) in page
            assert (NOT_RECORDED in page) == (language == "en")
            assert str(log) in page
            assert UNWRITTEN not in page
    assert log.read_bytes() == damaged
    assert "request_failed" not in desk.log.read_text()


def test_a_view_the_log_cannot_take_is_shown_with_a_warning_and_recorded_once_it_can(
    caseworker: Caseworker, desk: RunningDesk
) -> None:
    browser = _sign_in(caseworker, desk)
    log = caseworker.key_file.parent / LOG_NAME
    log.symlink_to(log.parent / "unplugged" / LOG_NAME)  # a drive that was taken out
    for language in ("ar", "fr", "en"):
        page = _view(browser, language)
        _ = translator(language)
        assert _(NOT_RECORDED) in page
        assert (NOT_RECORDED in page) == (language == "en")
        assert str(log) in page
        assert (UNWRITTEN in page) == (language == "en")
        assert _(UNVERIFIED) not in page
    log.unlink()  # the drive is back: the next view is the one recorded
    page = _view(browser)
    assert NOT_RECORDED not in page
    assert len(_opens(caseworker)) == 1
    _view(browser)
    assert len(_opens(caseworker)) == 1


def test_a_package_made_after_a_view_in_the_desk_states_that_open(
    caseworker: Caseworker, desk: RunningDesk
) -> None:
    browser = _sign_in(caseworker, desk)
    _view(browser)
    [viewed] = _opens(caseworker)
    with browser.opener.open(f"{desk.origin}/case/{CASE}/package", b"", timeout=30) as answer:
        assert answer.headers["Content-Type"] == "application/zip"
        package = zipfile.ZipFile(io.BytesIO(answer.read()))
    custody = json.loads(package.read("manifest.json"))["custody"]
    assert [c["event"] for c in custody] == [OPENED, OPENED, "packaged"]
    assert custody[0]["at"] == viewed.isoformat(timespec="seconds")
