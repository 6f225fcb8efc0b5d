"""Headless Chromium for the desk's browser tests: the system's ``chromium``, driven by Playwright.

Playwright's own browser download is never used. :func:`desk_page` opens the desk's URL in a
fresh context and records every request the page makes, so a test can assert that none left
127.0.0.1.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
STEP_MS = 15_000


def playwright_sync_api() -> Any:
    """Playwright's sync API, or skip the test module when it or Chromium is missing."""
    api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium browser: install Debian's chromium package")
    return api


@dataclass
class DeskPage:
    """A page on the desk and every URL it requested."""

    page: Any
    requested: list[str] = field(default_factory=list)

    def drop(self, files: dict[str, bytes]) -> None:
        """Drop ``files`` onto the drop zone, as dragging them from a folder does; waits for
        the page to reload with them."""
        payload = {name: base64.b64encode(data).decode() for name, data in files.items()}
        with self.page.expect_navigation(timeout=STEP_MS):
            self.page.evaluate(
                """files => setTimeout(() => {
                    const transfer = new DataTransfer();
                    for (const [name, b64] of Object.entries(files)) {
                        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                        transfer.items.add(new File([bytes], name));
                    }
                    const zone = document.getElementById("dropzone");
                    zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer,
                                                               bubbles: true, cancelable: true}));
                }, 0)""",
                payload,
            )


@contextmanager
def desk_page(sync_api: Any, url: str) -> Iterator[DeskPage]:
    """Chromium on ``url`` (the desk's address with its token)."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            page = context.new_page()
            opened = DeskPage(page)
            page.on("request", lambda request: opened.requested.append(request.url))
            page.goto(url)
            yield opened
        finally:
            browser.close()
