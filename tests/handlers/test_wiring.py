"""The flow's settings come from the configuration; slow file work never stalls other reporters."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import pytest
from telegram import CallbackQuery, Chat, Message, Update, User

from bot.config import parse_config
from bot.services.report_submission import report_flow_settings
from crypto.keys import ORG_SIGNING_PREFIX, Ed25519SigningKey, X25519SecretKey
from handlers.evidence import shared_sandbox
from handlers.report_flow import ReportFlowSettings, build_report_handler
from tests.handlers import samples
from tests.handlers.conftest import (
    Harness,
    RecordingHousekeeping,
    RecordingSubmitter,
    Reporter,
    answer_to_narrative,
    begin,
)


def test_settings_take_organisation_and_limits_from_the_configuration() -> None:
    config = parse_config(
        {
            "telegram": {"token_env": "SANAD_TEST_TOKEN"},
            "database": {"url": "sqlite+aiosqlite:///state/sanad.sqlite3"},
            "organisation": {
                "signing_public_key": Ed25519SigningKey.generate().public_key.to_text(
                    ORG_SIGNING_PREFIX
                ),
                "recovery_public_key": X25519SecretKey.generate().public_key.to_text(),
                "name": "Helpline",
                "countries": ["MA", "DZ"],
                "languages": ["fr", "ar"],
                "emergency_contacts": [{"label": "Lawyer", "value": "+212 600 000 000"}],
            },
            "delivery": {"batch_interval_seconds": 600, "jitter_seconds": 300},
            "limits": {
                "max_text_chars": 3000,
                "max_file_bytes": 5_000_000,
                "max_files": 4,
                "max_messages_per_minute": 12,
                "flood_burst": 40,
                "conversation_timeout_minutes": 20,
                "draft_memory_bytes": 99_000_000,
                "reports_per_day": 3,
            },
        }
    )
    settings = report_flow_settings(config)
    assert settings.organisation_name == "Helpline"
    assert settings.countries == ("MA", "DZ")
    assert settings.languages == ("fr", "ar")
    assert settings.emergency_contacts == (("Lawyer", "+212 600 000 000"),)
    assert (settings.max_text_chars, settings.max_file_bytes, settings.max_files) == (
        3000,
        5_000_000,
        4,
    )
    assert settings.max_messages_per_minute == 12
    assert settings.flood_burst == 40
    assert settings.conversation_timeout == dt.timedelta(minutes=20)
    assert (settings.draft_memory_bytes, settings.reports_per_day) == (99_000_000, 3)


async def test_file_cleaning_runs_off_the_event_loop_so_another_reporter_is_answered(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = threading.Event()
    started = asyncio.Event()
    loop = asyncio.get_running_loop()
    threads: list[threading.Thread] = []
    sandbox = shared_sandbox()  # the one every flow's chat cleans files with
    real_run = sandbox._run_worker

    def slow_run(data: bytes, max_bytes: int) -> Any:
        threads.append(threading.current_thread())
        loop.call_soon_threadsafe(started.set)
        # Held until the other reporter has been answered: on the event loop this would
        # deadlock the bot, and the test would time out.
        released.wait(timeout=10)
        return real_run(data, max_bytes)

    monkeypatch.setattr(sandbox, "_run_worker", slow_run)
    slow = Reporter(harness.api.open_chat(8001, "Slow"))
    await begin(slow)
    await answer_to_narrative(slow)
    await slow.say("Statement", until=lambda m: bool(m.buttons))
    await slow.press("Skip")
    await slow.chat.send_photo(samples.jpeg_with_gps())
    await asyncio.wait_for(started.wait(), timeout=5)

    other = harness.api.open_chat(8002, "Other")
    await other.send_command("start")
    await other.wait_for(lambda m: bool(m.buttons))
    released.set()
    await slow.chat.wait_for(lambda m: "File added" in (m.text or ""))
    assert threads[0] is not threading.main_thread()


def _press(data: str) -> Update:
    user = User(7001, "A", is_bot=False)
    chat_ = Chat(7001, Chat.PRIVATE)
    message = Message(1, dt.datetime.now(dt.UTC), chat_, from_user=user)
    return Update(1, callback_query=CallbackQuery("q1", user, "ci", message=message, data=data))


@pytest.mark.parametrize("data", ["incident:arrest", "erase", "platform:" + "x" * 55])
def test_report_flow_answers_its_own_buttons_outside_its_conversation(data: str) -> None:
    handler = build_report_handler(
        ReportFlowSettings(), RecordingSubmitter(), RecordingHousekeeping()
    )
    assert handler.check_update(_press(data))


@pytest.mark.parametrize("data", ["status:add", "status:erase", "erased", "x" * 64])
def test_report_flow_leaves_other_buttons_to_their_flow(data: str) -> None:
    handler = build_report_handler(
        ReportFlowSettings(), RecordingSubmitter(), RecordingHousekeeping()
    )
    assert not handler.check_update(_press(data))
