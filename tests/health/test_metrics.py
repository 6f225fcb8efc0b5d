"""``/metrics``: Prometheus text with the counts, reporter activity published hourly, no labels."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import bot.metrics
from bot.jobs.purge import Purger, RetentionSettings
from bot.local_api import Fault, LocalBotApi
from bot.metrics import (
    ARGON2_QUEUE_DEPTH,
    DELIVERIES_FAILED,
    DELIVERIES_PENDING,
    DELIVERIES_SENT,
    METRIC_NAMES,
    PUBLISH_EVERY_SECONDS,
    PURGE_RUNS,
    REPORTS_SUBMITTED,
    TELEGRAM_SECONDS_SINCE_CONTACT,
    UPDATES_HANDLED,
    Metrics,
)
from bot.services.housekeeping import Housekeeping
from crypto.keys import OrganisationKeys
from storage.engine import Database, open_database
from tests.delivery.conftest import caseworker_chat, enrol_caseworker, queue_report
from tests.delivery.test_forward import bot_application, drain, fast_forwarder
from tests.storage.helpers import add_caseworker, store_opaque_report

from .conftest import FakeClock, closed_port, served


def values(exposition: bytes | str) -> dict[str, float]:
    """Each family's value (a counter's ``_total`` sample), parsed as Prometheus text."""
    text = exposition.decode() if isinstance(exposition, bytes) else exposition
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (family.name, f"{family.name}_total"):
                found[family.name] = sample.value
    return found


async def test_metrics_parse_as_prometheus_text_and_carry_the_counts(
    sqlite_database: Database, metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    caseworker = await add_caseworker(sqlite_database, "amal")
    for _ in range(2):
        await store_opaque_report(sqlite_database, caseworker_id=caseworker)
    metrics.watch_argon2_queue(lambda: 3)
    for _ in range(4):
        metrics.update_handled()
    for _ in range(3):
        metrics.report_submitted()
    metrics.delivery_sent()
    metrics.delivery_sent()
    metrics.delivery_failed()
    metrics.purge_run()
    clock.advance(PUBLISH_EVERY_SECONDS)

    async with served(sqlite_database, metrics, clock) as url:
        response = await http.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert values(response.text) == {
        UPDATES_HANDLED: 4,
        REPORTS_SUBMITTED: 3,
        DELIVERIES_SENT: 2,
        DELIVERIES_FAILED: 1,
        DELIVERIES_PENDING: 2,
        PURGE_RUNS: 1,
        ARGON2_QUEUE_DEPTH: 3,
        # The last delivery was the last contact, an hour of fake time ago.
        TELEGRAM_SECONDS_SINCE_CONTACT: PUBLISH_EVERY_SECONDS,
    }


def test_reporter_activity_is_published_only_at_the_top_of_the_hour(clock: FakeClock) -> None:
    clock.advance(10 * 60)  # 12:10
    metrics = Metrics(clock=clock)
    metrics.report_submitted()
    metrics.update_handled()
    assert values(metrics.exposition())[REPORTS_SUBMITTED] == 0

    clock.advance(49 * 60 + 59)  # 12:59:59
    assert values(metrics.exposition())[REPORTS_SUBMITTED] == 0
    clock.advance(1)  # 13:00:00
    assert values(metrics.exposition())[REPORTS_SUBMITTED] == 1

    clock.advance(20 * 60)  # 13:20: counted, not shown until 14:00
    metrics.report_submitted()
    metrics.report_submitted()
    published = values(metrics.exposition())
    assert (published[REPORTS_SUBMITTED], published[UPDATES_HANDLED]) == (1, 1)
    clock.advance(40 * 60)  # 14:00
    assert values(metrics.exposition())[REPORTS_SUBMITTED] == 3


def test_operational_counts_are_live(metrics: Metrics) -> None:
    metrics.delivery_failed()
    metrics.purge_run()
    published = values(metrics.exposition())
    assert (published[DELIVERIES_FAILED], published[PURGE_RUNS]) == (1, 1)


async def test_forward_and_purge_jobs_count_sends_failures_and_runs(
    metrics: Metrics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The jobs count into the process's metrics through bot.metrics' functions; point those at
    # this test's own Metrics, then run the real jobs against the local Bot API server.
    for name in ("delivery_sent", "delivery_failed", "purge_run"):
        monkeypatch.setattr(bot.metrics, name, getattr(metrics, name))
    org = OrganisationKeys.generate()
    async with (
        LocalBotApi.running(seed=7) as api,
        bot_application(api, org, tmp_path) as (application, runtime),
    ):
        db = runtime.database
        await caseworker_chat(api, 5101)
        caseworker = await enrol_caseworker(db, org, chat_id=5101)
        await queue_report(db, org, caseworker)
        api.faults.inject("sendDocument", sequence=[Fault.server_error()])
        forwarder = fast_forwarder(application, runtime)

        await forwarder.run()
        assert values(metrics.exposition())[DELIVERIES_FAILED] == 1
        await drain(forwarder, db)  # the retry, once the short backoff has passed
        purger = Purger(
            db,
            Housekeeping.from_runtime(runtime),
            RetentionSettings.from_config(runtime.config.retention),
        )
        await purger.run()

    published = values(metrics.exposition())
    assert (published[DELIVERIES_SENT], published[DELIVERIES_FAILED], published[PURGE_RUNS]) == (
        1,
        1,
        1,
    )


def test_telegram_age_is_nan_before_any_contact(metrics: Metrics) -> None:
    assert math.isnan(values(metrics.exposition())[TELEGRAM_SECONDS_SINCE_CONTACT])


async def test_pending_deliveries_are_nan_when_the_database_is_unreachable(
    metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    database = open_database(f"postgresql://postgres@127.0.0.1:{closed_port()}/test")
    metrics.set_deliveries_pending(5)  # a value from an earlier scrape must not linger
    try:
        async with served(database, metrics, clock) as url:
            response = await http.get(f"{url}/metrics")
    finally:
        await database.close()
    assert response.status_code == 200
    assert math.isnan(values(response.text)[DELIVERIES_PENDING])


def test_metrics_are_a_fixed_set_of_series_without_labels(metrics: Metrics) -> None:
    # A label is where an id or a case reference could be put; there must be none, and no
    # family beyond the documented ones (none of prometheus-client's process or GC collectors).
    metrics.report_submitted()
    metrics.delivery_sent()
    families = list(text_string_to_metric_families(metrics.exposition().decode()))
    assert {family.name for family in families} == METRIC_NAMES
    for family in families:
        assert family.name.startswith("sanad_")
        for sample in family.samples:
            assert sample.labels == {}, sample
            assert sample.name in (family.name, f"{family.name}_total", f"{family.name}_created")
