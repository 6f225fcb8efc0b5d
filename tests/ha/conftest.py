"""Three ``sanad run`` instances on one PostgreSQL database and the local Bot API server
(``tests.support.cluster``). PostgreSQL only: without it the tests skip with the reason, or fail
under ``SANAD_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.local_api import LocalBotApi
from tests.e2e.conftest import Deployment, api, postgres_database
from tests.support.cluster import TAKEOVER_SECONDS, Cluster, running_cluster

__all__ = ["TAKEOVER_SECONDS", "Cluster", "api", "postgres_database"]


@pytest.fixture
async def cluster(
    request: pytest.FixtureRequest, api: LocalBotApi, tmp_path: Path, postgres_database: str
) -> AsyncIterator[Cluster]:
    """Three instances polling for updates, or in webhook mode (as behind a reverse proxy) with
    ``@pytest.mark.parametrize("cluster", ["webhook"], indirect=True)``."""
    deployment = Deployment(api, tmp_path, database_url=postgres_database)
    webhook = getattr(request, "param", "polling") == "webhook"
    async with running_cluster(deployment, webhook=webhook) as running:
        yield running
