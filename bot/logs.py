"""Logging that cannot leak: event names and counts only (DESIGN.md §8, invariants I1 and I2).

Sanad's own code logs through :func:`event`, which takes an event name and integer counts and
nothing else, so there is no argument a report's words or a Telegram id could be passed in.

Libraries are the risk: httpx logs every request URL, and a Bot API URL carries the bot token;
python-telegram-bot logs whole updates at DEBUG; exception messages can quote a chat id, a file
path or user text. So :func:`configure_logging` installs one handler whose filter rewrites every
record before it is formatted:

- records from Sanad's ``sanad.*`` loggers keep their event name and counts;
- records from any other logger keep only the logger name and level, never their message or
  arguments, and are dropped below WARNING whatever level is configured;
- an attached exception keeps its class name and the ``file:line`` frames of its traceback,
  never its message (which is where a URL or a value would be).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Mapping
from typing import IO, Final

SANAD_LOGGER: Final = "sanad"
_THIRD_PARTY_FLOOR: Final = logging.WARNING


def get_logger(component: str) -> logging.Logger:
    """The logger of one Sanad component, e.g. ``get_logger("forward")`` → ``sanad.forward``."""
    return logging.getLogger(f"{SANAD_LOGGER}.{component}")


def event(
    logger: logging.Logger, name: str, level: int = logging.INFO, **counts: int
) -> None:
    """Log the event ``name`` with integer ``counts``; the only way Sanad's code logs."""
    safe_counts = {key: int(value) for key, value in counts.items()}
    logger.log(level, name, extra={"sanad_counts": safe_counts})


def _exception_summary(exc_info: object) -> str | None:
    if not isinstance(exc_info, tuple) or len(exc_info) != 3 or exc_info[0] is None:
        return None
    exc_type, _exc, tb = exc_info
    frames = [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
              for frame in traceback.extract_tb(tb)]
    return f"{exc_type.__name__} at {' <- '.join(reversed(frames)) or '?'}"


class RedactingFilter(logging.Filter):
    """Rewrites each record so that only names, levels, counts and exception classes remain."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == SANAD_LOGGER or record.name.startswith(SANAD_LOGGER + ".")
        if not own and record.levelno < _THIRD_PARTY_FLOOR:
            return False
        if own:
            message = record.msg if isinstance(record.msg, str) else "event"
            counts = getattr(record, "sanad_counts", {})
        else:
            message = "library message withheld"
            counts = {}
        record.sanad_event = message
        record.sanad_counts = counts if isinstance(counts, Mapping) else {}
        record.sanad_exception = _exception_summary(record.exc_info)
        # Nothing below may reach a formatter: the original message, its arguments, the
        # exception and any stack.
        record.msg = message
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


class EventFormatter(logging.Formatter):
    """``LEVEL logger event key=value ...`` or, with ``json_lines``, one JSON object a line."""

    def __init__(self, *, json_lines: bool) -> None:
        super().__init__()
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        event_name = getattr(record, "sanad_event", "event")
        counts = dict(getattr(record, "sanad_counts", {}))
        exception = getattr(record, "sanad_exception", None)
        if self.json_lines:
            payload: dict[str, object] = {
                "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                "level": record.levelname,
                "logger": record.name,
                "event": event_name,
            }
            if counts:
                payload["counts"] = counts
            if exception:
                payload["exception"] = exception
            return json.dumps(payload, ensure_ascii=False, sort_keys=True)
        parts = [record.levelname, record.name, event_name]
        parts += [f"{key}={value}" for key, value in sorted(counts.items())]
        if exception:
            parts.append(f"exception={exception}")
        return " ".join(parts)


def configure_logging(
    level: str | int = "INFO", *, json_lines: bool = False, stream: IO[str] | None = None
) -> logging.Handler:
    """Install the redacting handler on the root logger and return it.

    Replaces any handler already on the root logger, so a library's own ``basicConfig`` cannot
    bypass the filter. The level applies to Sanad's loggers; libraries stay at WARNING or above.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(EventFormatter(json_lines=json_lines))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        numeric = logging.INFO
    root.setLevel(min(numeric, _THIRD_PARTY_FLOOR))
    logging.getLogger(SANAD_LOGGER).setLevel(numeric)
    # httpx logs request URLs (with the bot token) at INFO: keep it quiet at the source too.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler", "tornado", "aiosqlite",
                  "sqlalchemy", "asyncio", "hpack"):
        logging.getLogger(noisy).setLevel(_THIRD_PARTY_FLOOR)
    return handler
