"""``sanad local-api`` as an admin runs it: the deployment's own ``sanad run`` talks to it, and its
page sends text and files as a user, with no Telegram anywhere."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from crypto.keys import OrganisationKeys
from tests.support.ports import free_loopback_port
from tests.support.processes import SANAD, sanad, sanad_run
from tests.webhook.configuration import config_toml

pytestmark = pytest.mark.slow

TOKEN_ENV = "SANAD_TEST_LOCAL_API_TOKEN"
TOKEN = "424242:local-api-command-test"
READY_SECONDS = 30.0
ANSWER_SECONDS = 30.0


@dataclass(frozen=True)
class Running:
    """A running ``sanad local-api``: the Bot API it announced and its page."""

    api_url: str
    page_url: str


@asynccontextmanager
async def local_api(config: Path, log: Path) -> AsyncIterator[Running]:
    """``sanad local-api --config CONFIG`` until its page is announced; SIGINT on leaving."""
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            *SANAD, "local-api", "--config", str(config), "--reporter-language", "en",
            env={**os.environ, TOKEN_ENV: TOKEN, "PYTHONUNBUFFERED": "1"},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=errors,
        )
    assert process.stdout is not None
    try:
        announced: dict[str, str] = {}
        async with asyncio.timeout(READY_SECONDS):
            while "Page" not in announced:
                line = (await process.stdout.readline()).decode()
                assert line, "sanad local-api ended before announcing its page"
                key, _, value = line.partition(": ")
                announced[key.split(" ")[0]] = value.strip()
        yield Running(announced["Bot"], announced["Page"])
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            async with asyncio.timeout(20):
                assert await process.wait() == 0


async def bot_says(
    http: httpx.AsyncClient, chat: str, since: int, found: Callable[[dict[str, Any]], bool]
) -> tuple[dict[str, Any], int]:
    """The first bot message after version ``since`` matching ``found``, as the page sees it."""
    async with asyncio.timeout(ANSWER_SECONDS):
        while True:
            events = (await http.get(f"{chat}/events", params={"since": since, "wait": 5})).json()
            since = events["version"]
            for message in (await http.get(chat)).json()["messages"]:
                if message["from_bot"] and found(message):
                    return message, since


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "navy").save(out, "JPEG")
    return out.getvalue()


async def test_deployment_runs_end_to_end_against_local_api_with_files(tmp_path: Path) -> None:
    api_url = f"http://127.0.0.1:{free_loopback_port()}"
    config = tmp_path / "config.toml"
    config.write_text(config_toml(api_url=api_url, folder=tmp_path,
                                  org=OrganisationKeys.generate(), token_env=TOKEN_ENV))
    async with local_api(config, tmp_path / "local-api.log") as running, httpx.AsyncClient(
        base_url=running.page_url, trust_env=False, timeout=30
    ) as http:
        assert running.api_url == api_url
        me = (await http.get(f"{api_url}/bot{TOKEN}/getMe")).json()
        assert me["ok"] is True
        assert me["result"]["id"] == 424242
        setup = (await http.get("/_try/setup")).json()
        assert (setup["mode"], setup["can_open"]) == ("local-api", False)
        # The page holds no key here: nothing opens sealed files for the caseworker.
        assert (await http.post("/_try/open", json={"message_id": 1})).status_code == 404

        reporter = f"/_local/chats/{setup['reporter']}"
        async with sanad_run(config, tmp_path / "bot.log", {TOKEN_ENV: TOKEN}):
            since = (await http.get(reporter)).json()["version"]
            sent = await http.post(f"{reporter}/files", params={"kind": "photo"},
                                   content=photo(),
                                   headers={"Content-Type": "application/octet-stream"})
            assert sent.status_code == 200
            # Outside a report, the bot answers a photo (and erases it, I7): it got the file.
            _, since = await bot_says(http, reporter, since, lambda m: m["text"] is not None)
            await http.post(f"{reporter}/messages", json={"text": "/start"})
            await bot_says(http, reporter, since, lambda m: bool(m["buttons"]))


async def test_local_api_refuses_telegram_itself_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_toml(api_url="https://api.telegram.org", folder=tmp_path,
                                  org=OrganisationKeys.generate(), token_env=TOKEN_ENV))
    result = await sanad("local-api", "--config", config, env={TOKEN_ENV: TOKEN}, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "sanad: telegram.api_base_url is Telegram's: sanad local-api stands in for a Bot API "
        "server on this computer",
        'hint: set telegram.api_base_url = "http://127.0.0.1:8081" in the configuration, and run '
        "sanad run with the same file",
    ]
