"""Another module can add a page, a top-bar link and a case-page button to the desk, and its page
is behind the same checks as the desk's own (how statistics and evidence packages plug in; the
example here uses paths of its own, beside theirs)."""

from __future__ import annotations

import types
from pathlib import Path

import httpx
import pytest

from desk.session import Desk, DeskSettings
from desk.web import server
from desk.web.base import DeskHandler
from desk.web.registry import Registry
from tests.desk.conftest import PASSPHRASE, Caseworker

CASE = "P4G-0001"


class CountPage(DeskHandler):
    def get(self) -> None:
        self.finish(f"{len(self.desk.book.cases())} case(s) counted")


def _register(registry: Registry) -> None:
    registry.route(r"/count", CountPage)
    registry.link("/count", "Count")
    registry.case_action("/case/{reference}/flag", "Flag this case")


async def test_a_page_module_adds_a_page_a_link_and_a_case_button(
    caseworker: Caseworker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extension = types.SimpleNamespace(register=_register)
    monkeypatch.setattr(server, "PAGE_MODULES", (*server.PAGE_MODULES, extension))
    desk = Desk(DeskSettings(caseworker.key_file, tmp_path / "data", tmp_path / "inbox", 600))
    desk.unlock(PASSPHRASE)
    desk.take("case.sanad", caseworker.sealed(CASE, [("incident.description", "words")]))
    http_server, address = server.serve(desk)
    url, origin = address.home, address.origin
    try:
        async with httpx.AsyncClient(timeout=30) as stranger:
            assert (await stranger.get(f"{origin}/count")).status_code == 403
        async with httpx.AsyncClient(timeout=30, follow_redirects=True) as browser:
            home = await browser.get(url)
            assert '<a href="/count">Count</a>' in home.text
            assert (await browser.get(f"{origin}/count")).text == "1 case(s) counted"
            case = await browser.get(f"{origin}/case/{CASE}")
            assert f'action="/case/{CASE}/flag"' in case.text
            assert "Flag this case" in case.text
    finally:
        http_server.stop()
        desk.lock()
