"""Counts of what the bot does, for the operator's monitoring: numbers only, never who or what.

Features count by calling one function each, with no argument that could carry an identifier::

    from bot import metrics
    metrics.report_submitted()      # after the report's transaction committed
    metrics.delivery_sent()         # after Telegram acknowledged a sealed file
    metrics.delivery_failed()       # after a send attempt failed (retried later or given up)
    metrics.purge_run()             # after a purge finished

Updates are counted by the health module's handler that runs before every other, the Argon2id queue
depth is read from the runtime's pool at scrape time, and pending deliveries are counted in the
database when ``/metrics`` is scraped (:mod:`bot.health`).

Everything lives in one dedicated :class:`~prometheus_client.CollectorRegistry` per
:class:`Metrics`, never prometheus-client's global one, so ``/metrics`` shows exactly the series
listed in :data:`METRIC_NAMES`: no library's metrics, no process collector, and no label at all.
A metric with a label is a place where a chat id or a case reference could one day be put; there
is none, and a test keeps it so.

**Coarse time (I3).** A monitoring server keeps every scrape, typically every 15 seconds, for
weeks. A live count of reports or updates would record, to the scrape, when someone wrote to the
bot and when a report was submitted — precisely what I3 keeps out of the database. So the
counters of reporter activity (:data:`HOURLY`) are *published* once an hour: the value shown is
the count at the most recent top of the hour, and changes at most once an hour. Delivery and
purge counts are the bot's own schedule (already batched with random delay) and stay live.

Process-wide: the counters are facts about this process, like its log, so features reach them
through module functions rather than having a counter object threaded through every service;
tests build their own :class:`Metrics` with a clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric

#: How often the counters of reporter activity change what they show (I3: coarse time).
PUBLISH_EVERY_SECONDS: Final = 3600

UPDATES_HANDLED: Final = "sanad_updates_handled"
REPORTS_SUBMITTED: Final = "sanad_reports_submitted"
DELIVERIES_SENT: Final = "sanad_deliveries_sent"
DELIVERIES_FAILED: Final = "sanad_deliveries_failed"
DELIVERIES_PENDING: Final = "sanad_deliveries_pending"
PURGE_RUNS: Final = "sanad_purge_runs"
ARGON2_QUEUE_DEPTH: Final = "sanad_argon2_queue_depth"
TELEGRAM_SECONDS_SINCE_CONTACT: Final = "sanad_telegram_seconds_since_contact"

#: The counters published once an hour (see the module docstring).
HOURLY: Final = frozenset({UPDATES_HANDLED, REPORTS_SUBMITTED})

#: Every metric family ``/metrics`` serves, by its base name (counters add ``_total``).
METRIC_NAMES: Final = frozenset(
    {
        UPDATES_HANDLED,
        REPORTS_SUBMITTED,
        DELIVERIES_SENT,
        DELIVERIES_FAILED,
        DELIVERIES_PENDING,
        PURGE_RUNS,
        ARGON2_QUEUE_DEPTH,
        TELEGRAM_SECONDS_SINCE_CONTACT,
    }
)


class _Counter:
    """A counter; with ``hourly``, its published value only catches up at the top of each hour.

    A prometheus-client collector (``collect`` is what the registry calls on each scrape) rather
    than the library's ``Counter``, which would add a ``_created`` series per counter and cannot
    delay what it shows (I3).
    """

    def __init__(
        self, name: str, documentation: str, clock: Callable[[], float], *, hourly: bool
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._clock = clock
        self._hourly = hourly
        self._lock = threading.Lock()
        self._count = 0
        self._published = 0
        self._published_hour = self._hour()

    def _hour(self) -> int:
        return math.floor(self._clock() / PUBLISH_EVERY_SECONDS)

    def _catch_up(self) -> None:
        # Called under the lock, before counting or reading: what was counted before the current
        # hour began becomes visible, nothing counted since.
        hour = self._hour()
        if hour != self._published_hour:
            self._published, self._published_hour = self._count, hour

    def inc(self) -> None:
        with self._lock:
            self._catch_up()
            self._count += 1

    def published(self) -> int:
        """The count now or, for an hourly counter, as of the most recent top of the hour."""
        with self._lock:
            if not self._hourly:
                return self._count
            self._catch_up()
            return self._published

    def collect(self) -> Iterable[Metric]:
        yield CounterMetricFamily(self._name, self._documentation, value=self.published())


class Metrics:
    """The counters and gauges of one process, in their own registry.

    ``clock`` (seconds since the epoch) is the seam for the hourly publication and for the age of
    the last contact with Telegram; tests pass a fake one.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self._updates = self._counter(UPDATES_HANDLED, "Telegram updates received.")
        self._reports = self._counter(REPORTS_SUBMITTED, "Reports sealed and committed.")
        self._sent = self._counter(
            DELIVERIES_SENT, "Sealed files Telegram accepted for caseworkers."
        )
        self._failed = self._counter(
            DELIVERIES_FAILED, "Send attempts to caseworkers that failed (retried or given up)."
        )
        self._purges = self._counter(PURGE_RUNS, "Purge runs completed.")
        self._pending = Gauge(
            DELIVERIES_PENDING,
            "Deliveries still owed to caseworkers, counted at scrape (NaN: database unreachable).",
            registry=self.registry,
        )
        self._argon2 = Gauge(
            ARGON2_QUEUE_DEPTH, "Receipt derivations running or waiting.", registry=self.registry
        )
        self._argon2.set(0)
        self._last_contact: float | None = None
        self._telegram = Gauge(
            TELEGRAM_SECONDS_SINCE_CONTACT,
            "Seconds since the last successful exchange with the Bot API (NaN: none yet).",
            registry=self.registry,
        )
        self._telegram.set_function(self._telegram_age_or_nan)

    def _counter(self, name: str, documentation: str) -> _Counter:
        hourly = name in HOURLY
        if hourly:
            documentation += " Published on the hour."
        counter = _Counter(name, documentation, self._clock, hourly=hourly)
        self.registry.register(counter)
        return counter

    # --- what features call ---

    def update_handled(self) -> None:
        """One update arrived from Telegram (which is also a successful exchange with it)."""
        self._updates.inc()
        self.telegram_contact()

    def report_submitted(self) -> None:
        """One report was sealed and committed; call after the commit, never before."""
        self._reports.inc()

    def delivery_sent(self) -> None:
        """Telegram accepted one sealed file for a caseworker."""
        self._sent.inc()
        self.telegram_contact()

    def delivery_failed(self) -> None:
        """One send attempt to a caseworker failed, whether it will be retried or not."""
        self._failed.inc()

    def purge_run(self) -> None:
        """One purge finished."""
        self._purges.inc()

    def telegram_contact(self) -> None:
        """A call to the Bot API succeeded, or Telegram delivered an update."""
        self._last_contact = self._clock()

    # --- what the health endpoint sets and reads ---

    def watch_argon2_queue(self, depth: Callable[[], int]) -> None:
        """Read the Argon2id queue depth from ``depth`` at each scrape."""
        self._argon2.set_function(lambda: float(depth()))

    def set_deliveries_pending(self, count: int | None) -> None:
        """Record the pending deliveries counted just now; None when they could not be counted."""
        self._pending.set(math.nan if count is None else count)

    def seconds_since_telegram(self) -> float | None:
        """Seconds since the last exchange with Telegram, or None if there was none yet."""
        last = self._last_contact
        return None if last is None else max(0.0, self._clock() - last)

    def _telegram_age_or_nan(self) -> float:
        age = self.seconds_since_telegram()
        return math.nan if age is None else age

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


_PROCESS = Metrics()


def process_metrics() -> Metrics:
    """The metrics of this process: what the module functions below count into."""
    return _PROCESS


report_submitted = _PROCESS.report_submitted
delivery_sent = _PROCESS.delivery_sent
delivery_failed = _PROCESS.delivery_failed
purge_run = _PROCESS.purge_run
