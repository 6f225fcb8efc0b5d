"""The ``sanad try`` page over plain HTTP: what it serves, whom it refuses, and a French report.

One sandbox serves the module. The report here goes through the page's own routes (the ones its
JavaScript calls) in French, so the delivery and the "open" button's real ``sanad caseworker
open`` are covered even where no browser is installed.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.local_api.methods import MAX_UPLOAD_BYTES
from handlers.choices import country_name, month_name
from handlers.i18n import LANGUAGE_NAMES, translator
from tests.try_mode.conftest import SanadTry, sanad_try

pytestmark = pytest.mark.slow

STEP_SECONDS = 15.0
DELIVERY_SECONDS = 45.0
fr = translator("fr")
RECEIPT = re.compile(r"\d{4}(?: \d{4}){6}")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SanadTry]:
    folder = tmp_path_factory.mktemp("try")
    with sanad_try(folder / "try.log", "--reporter-language", "fr") as sandbox:
        yield sandbox


@pytest.fixture
def http(running: SanadTry) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url, trust_env=False, timeout=30) as client:
        yield client


class PageChat:
    """One chat window, driven through the routes the page's JavaScript uses."""

    def __init__(self, http: httpx.Client, chat_id: int) -> None:
        self.http = http
        self.path = f"/_local/chats/{chat_id}"

    def messages(self) -> list[dict[str, Any]]:
        response = self.http.get(self.path)
        response.raise_for_status()
        return list(response.json()["messages"])

    def wait(
        self, found: Callable[[list[dict[str, Any]]], Any], timeout: float = STEP_SECONDS
    ) -> Any:
        """The first truthy ``found(messages)``, re-read as the page does after each event."""
        deadline = time.monotonic() + timeout
        version = -1
        while time.monotonic() < deadline:
            if result := found(self.messages()):
                return result
            answer = self.http.get(f"{self.path}/events", params={"since": version, "wait": 2})
            version = answer.json()["version"]
        raise AssertionError("the chat did not show what was expected in time")

    def send(self, text: str) -> None:
        self.http.post(f"{self.path}/messages", json={"text": text}).raise_for_status()

    def press(self, label: str) -> None:
        """Press the button ``label`` on the newest message that has it, as a click does."""

        def button(messages: list[dict[str, Any]]) -> tuple[dict[str, Any], str] | None:
            for message in reversed(messages):
                for row in message["buttons"]:
                    for candidate in row:
                        if candidate["text"] == label:
                            return message, candidate["callback_data"]
            return None

        pressed, data = self.wait(button)
        message_id = pressed["message_id"]
        self.http.post(f"{self.path}/press", json={"message_id": message_id,
                                                   "callback_data": data}).raise_for_status()
        # The bot edits the pressed message into the next step (or erases it): once it has
        # changed, the next step can be pressed.
        self.wait(lambda ms: all(m["message_id"] != message_id or m != pressed for m in ms))


def test_page_loads_nothing_from_the_network_and_forbids_framing(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    for asset in ("/", "/page.css", "/page.js"):
        body = http.get(asset).text
        assert re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", body) is None, asset
    assert "demonstration" in page.text
    assert "not protected" in page.text


def test_page_offers_the_sample_voice_note_and_the_upload_limit(http: httpx.Client) -> None:
    sample = http.get("/sample-voice.ogg")
    assert sample.headers["Content-Type"] == "audio/ogg"
    assert sample.content == resources.files("bot.try_mode").joinpath("sample-voice.ogg") \
        .read_bytes()
    setup = http.get("/_try/setup").json()
    # The page checks a file against the server's limit before sending it.
    assert (setup["mode"], setup["can_open"], setup["max_file_bytes"]) == (
        "try", True, MAX_UPLOAD_BYTES)


@pytest.mark.parametrize("path", ["/", "/_try/setup", "/_local/chats"])
def test_requests_naming_another_host_are_refused(http: httpx.Client, path: str) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 under its own name: the Host header gives it away.
    assert http.get(path, headers={"Host": "rebind.example"}).status_code == 403


def test_open_refuses_a_form_post_another_site_could_send(http: httpx.Client) -> None:
    response = http.post("/_try/open", content="message_id=1",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400


def test_open_refuses_a_message_without_a_file(http: httpx.Client) -> None:
    setup = http.get("/_try/setup").json()
    enrolment = PageChat(http, setup["caseworker"]).messages()[0]
    response = http.post("/_try/open", json={"message_id": enrolment["message_id"]})
    assert response.status_code == 400
    assert "no file" in response.json()["description"]


def test_french_report_through_the_page_is_delivered_and_opened_with_the_cli(
    http: httpx.Client, running: SanadTry
) -> None:
    canary = secrets.token_hex(6)
    statement = f"Ils ont publié mes photos avec mon adresse. {canary}"
    setup = http.get("/_try/setup").json()
    assert setup["reporter_language"] == "fr"
    reporter, caseworker = PageChat(http, setup["reporter"]), PageChat(http, setup["caseworker"])

    reporter.send("/start")
    reporter.press(LANGUAGE_NAMES["fr"])
    for label in ("I understand, continue", "No", "Doxxing or outing", "Facebook"):
        reporter.press(fr(label))
    reporter.press(country_name("TN", "fr"))
    reporter.press("2025")
    reporter.press(month_name(3, "fr"))
    reporter.send(statement)
    for label in ("Skip", "Skip", "I did not report it to the platform", "No reply needed",
                  "No", "Submit"):
        reporter.press(fr(label))
    reporter.wait(lambda ms: any(m["from_bot"] and RECEIPT.search(m["text"] or "") for m in ms))
    reporter.press(fr("I have saved it"))
    reporter.wait(lambda ms: not ms)

    document = caseworker.wait(
        lambda ms: next((m for m in ms if m["document"]), None), timeout=DELIVERY_SECONDS)
    opened = http.post("/_try/open", json={"message_id": document["message_id"]}).json()
    assert opened["exit_code"] == 0
    assert opened["command"].startswith("sanad caseworker open ")
    assert f"incident.description: {statement}" in opened["output"]
    assert "reporter.language: fr" in opened["output"]
    # The file was opened from the sandbox's folder, which goes when the sandbox does.
    assert any(Path(running.folder, "caseworker-inbox").iterdir())
    # ... and the same case is on the caseworker's desk, behind its own token.
    desk_url = opened["desk_url"]
    assert desk_url.startswith("http://127.0.0.1:")
    assert httpx.get(desk_url.split("?")[0], timeout=30).status_code == 403
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        case = browser.get(desk_url)
    assert case.status_code == 200
    assert canary in case.text
    assert "Doxxing / outing" in case.text
