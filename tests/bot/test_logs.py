"""The logging pipeline keeps event names and counts and drops everything else (I1, I2)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import configure_logging, event, get_logger

TOKEN = "123456:AAE-canary-token-value"
CANARY = "canary-report-text-7f3a"
USER_ID = "998877665544"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put every logger back as it was."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(saved_levels.get(name, logging.NOTSET))


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    return stream


def test_event_keeps_name_and_counts(captured: io.StringIO) -> None:
    event(get_logger("forward"), "delivery.sent", files=3)
    assert "sanad.forward delivery.sent files=3" in captured.getvalue()


def test_library_messages_never_reach_output(captured: io.StringIO) -> None:
    url = f"https://api.example/bot{TOKEN}/sendMessage?chat_id={USER_ID}&text={CANARY}"
    logging.getLogger("httpx").warning("HTTP Request: POST %s", url)
    logging.getLogger("telegram.ext.Application").error("update %s", {"text": CANARY})
    output = captured.getvalue()
    assert "httpx" in output  # the record itself is kept, as a withheld message
    for secret in (TOKEN, CANARY, USER_ID):
        assert secret not in output


def test_library_debug_is_dropped_even_at_debug_level(captured: io.StringIO) -> None:
    logging.getLogger("telegram.ext.Updater").debug("update %s", CANARY)
    assert captured.getvalue() == ""


def test_exception_messages_are_withheld_but_class_is_kept(captured: io.StringIO) -> None:
    try:
        raise ValueError(f"bad chat {USER_ID}: {CANARY}")
    except ValueError:
        get_logger("handlers").exception("handler.failed")
        logging.getLogger("telegram.ext").exception("Error while handling %s", CANARY)
    output = captured.getvalue()
    assert "ValueError at test_logs.py:" in output
    assert CANARY not in output
    assert USER_ID not in output


def test_json_lines_are_parseable() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json_lines=True, stream=stream)
    event(get_logger("purge"), "purge.done", rows=5)
    record = json.loads(stream.getvalue().strip())
    assert record["event"] == "purge.done"
    assert record["counts"] == {"rows": 5}
    assert record["logger"] == "sanad.purge"
