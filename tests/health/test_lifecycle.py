"""The endpoint on the real application: up from post_init, counting, down at shutdown.

The bot is Sanad's own ``build_application`` over real HTTP against the local Bot API server,
driven through the same steps ``run_polling`` takes, so the test can look in between.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from bot import health
from bot.app import build_application
from bot.config import load_bot_token, parse_config
from bot.local_api import LocalBotApi
from bot.metrics import PUBLISH_EVERY_SECONDS, UPDATES_HANDLED, Metrics
from bot.runtime import Runtime

from .conftest import FakeClock, closed_port, config_data
from .test_metrics import values

CANARY_USER_ID = 987_654_321
CANARY_USERNAME = "canary_nour_5521"


async def test_endpoint_serves_from_post_init_until_shutdown_and_carries_no_identifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: httpx.AsyncClient
) -> None:
    clock = FakeClock()
    metrics = Metrics(clock=clock)
    monkeypatch.setattr(health, "process_metrics", lambda: metrics)
    port = closed_port()
    async with LocalBotApi.running() as api:
        token = api.add_bot()
        monkeypatch.setenv("SANAD_TEST_TOKEN", token)
        data = config_data(tmp_path / "state", enabled=True, port=port)
        data["telegram"]["api_base_url"] = api.url
        config = parse_config(data, base_dir=tmp_path)
        runtime = Runtime.open(config)
        application = build_application(config, load_bot_token(config), runtime)
        url = f"http://127.0.0.1:{port}"

        await application.initialize()
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{url}/healthz")  # not before post_init
        assert application.post_init is not None
        await application.post_init(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            # initialize() asked the local server getMe just before post_init.
            healthz = await http.get(f"{url}/healthz")
            assert healthz.status_code == 200, healthz.text
            assert healthz.json()["healthy"] is True
            assert healthz.json()["telegram_seconds_since_contact"] == 0.0

            # The probe job's own getMe, against the local server, is contact again.
            clock.advance(100)
            assert application.job_queue is not None
            (probe,) = application.job_queue.get_jobs_by_name(health.PROBE_JOB_NAME)
            await probe.run(application)
            assert metrics.seconds_since_telegram() == 0.0

            chat = api.open_chat(CANARY_USER_ID, "Nour", username=CANARY_USERNAME)
            await chat.send_command("start")
            await chat.send_text("hello")

            async def updates_published() -> float:
                # Each hour of fake time publishes what was counted before it.
                clock.advance(PUBLISH_EVERY_SECONDS)
                return values((await http.get(f"{url}/metrics")).text)[UPDATES_HANDLED]

            for _ in range(250):  # up to 5 seconds for the bot to poll both updates
                if await updates_published() >= 2:
                    break
                await asyncio.sleep(0.02)
            assert await updates_published() == 2

            metrics_page = await http.get(f"{url}/metrics")
            pages = metrics_page.text + (await http.get(f"{url}/healthz")).text
            for identifier in (str(CANARY_USER_ID), CANARY_USERNAME, "Nour", token):
                assert identifier not in pages
        finally:
            await application.updater.stop()
            await application.stop()
            await application.shutdown()
            assert application.post_shutdown is not None
            await application.post_shutdown(application)

    with pytest.raises(httpx.ConnectError):
        await http.get(f"{url}/healthz")


def test_disabled_endpoint_adds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANAD_TEST_TOKEN", "123456:" + "A" * 35)
    config = parse_config(config_data(tmp_path / "state", enabled=False), base_dir=tmp_path)
    runtime = Runtime.open(config)
    application = build_application(config, load_bot_token(config), runtime)
    assert health.UPDATE_COUNTER_GROUP not in application.handlers
    assert application.job_queue is not None
    assert not application.job_queue.get_jobs_by_name(health.PROBE_JOB_NAME)
