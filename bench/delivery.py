"""Delivery throughput: a large outbox backlog through the forward job, rate limiter on.

Run from the repository root::

    python -m bench.delivery [--reports 600] [--chats 60]

It seals ``--reports`` real reports to ``--chats`` certified caseworkers (round-robin) in a SQLite
file, then lets one :class:`bot.jobs.forward.Forwarder` on the application built by
``bot.app.build_application`` (PTB's AIORateLimiter at ``delivery.messages_per_second``, 30/s)
deliver them to the local Bot API server with Telegram's limits switched on (about one message a
second per chat, thirty a second overall, answered with 429 and ``retry_after`` beyond). It
prints one JSON object: deliveries per second from the first claim to the last commit, against
the configured limit, and the CPU time one delivery costs. The goal (docs/BENCHMARKS.md) is at
least 90% of that limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import tomllib
from pathlib import Path

from bot.app import build_application
from bot.config import BotToken, parse_config
from bot.jobs.forward import Forwarder, ForwardSettings
from bot.local_api import LocalBotApi, RateLimits
from bot.logs import configure_logging
from bot.runtime import Runtime
from crypto.keys import OrganisationKeys
from storage.migrate import upgrade_database
from storage.models import DeliveryStatus
from tests.delivery.conftest import (
    caseworker_chat,
    certified_state_dir,
    config_text,
    enrol_caseworker,
    outbox_rows,
    queue_report,
)


async def measure(reports: int, chats: int, folder: Path) -> dict[str, object]:
    org = OrganisationKeys.generate()
    async with LocalBotApi.running(rate_limits=RateLimits(enabled=True)) as api:
        text = config_text(
            api_url=api.url,
            database_url=f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}",
            org=org,
            state_dir=certified_state_dir(folder / "state", org),
            delivery={"batch_interval_seconds": 1.0, "jitter_seconds": 0.0},
        )
        config = parse_config(tomllib.loads(text))
        runtime = Runtime.open(config)
        application = build_application(config, BotToken(api.add_bot()), runtime)
        db = runtime.database
        await upgrade_database(db)
        caseworkers = []
        for chat_id in range(10_000, 10_000 + chats):
            await caseworker_chat(api, chat_id)
            caseworkers.append(await enrol_caseworker(db, org, chat_id=chat_id))
        for index in range(reports):
            await queue_report(db, org, caseworkers[index % chats])
        forwarder = Forwarder(
            db,
            application.bot,
            ForwardSettings.from_config(config.delivery, lambda: 0),
            org_key=config.organisation.signing_public_key,
            identity=runtime.bot,
        )
        async with application:  # initialised only: the JobQueue is not started
            started, cpu_started = time.perf_counter(), time.process_time()
            counts = await forwarder.run()
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
        rows = await outbox_rows(db)
        await runtime.close()
    sent = sum(row.status is DeliveryStatus.SENT for row in rows)
    limit = config.delivery.messages_per_second
    return {
        "benchmark": "delivery",
        "reports": reports,
        "chats": chats,
        "sent": sent,
        "deferred_by_retry_after": counts.deferred,
        "seconds": round(elapsed, 3),
        "deliveries_per_second": round(sent / elapsed, 2),
        "configured_limit_per_second": limit,
        "share_of_limit": round(sent / elapsed / limit, 3),
        # The local server runs in this process, so this counts both sides of each call.
        "cpu_ms_per_delivery": round(cpu / sent * 1000, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=600)
    parser.add_argument("--chats", type=int, default=60)
    args = parser.parse_args()
    # Library messages (PTB logs each 429 with its traceback) are withheld, as in the bot.
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(measure(args.reports, args.chats, Path(folder)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
