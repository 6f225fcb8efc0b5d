"""The endpoint is for this machine only: loopback addresses, loopback Host names."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.config import ConfigError, parse_config
from bot.health import HealthChecks, HealthEndpointError, HealthServer
from bot.metrics import Metrics
from storage.engine import Database

from .conftest import FakeClock, config_data, served


@pytest.mark.parametrize("listen", ["0.0.0.0", "::", "192.0.2.10", "localhost", ""])
async def test_server_refuses_a_non_loopback_listen_address(
    listen: str, sqlite_database: Database, metrics: Metrics, clock: FakeClock
) -> None:
    checks = HealthChecks(
        sqlite_database, scheduler_running=lambda: True, metrics=metrics, clock=clock
    )
    server = HealthServer(checks, metrics)
    with pytest.raises(HealthEndpointError, match="loopback"):
        server.start(listen, 0)
    assert server.port is None


@pytest.mark.parametrize("listen", ["0.0.0.0", "10.0.0.5", "::"])
def test_configuration_refuses_a_non_loopback_listen_address(tmp_path: Path, listen: str) -> None:
    with pytest.raises(ConfigError, match=r"health\.listen: must be a loopback address"):
        parse_config(config_data(tmp_path, enabled=True, listen=listen))


def test_configuration_accepts_ipv6_loopback(tmp_path: Path) -> None:
    assert parse_config(config_data(tmp_path, listen="::1")).health.listen == "::1"


async def test_server_listens_on_ipv6_loopback(
    sqlite_database: Database, metrics: Metrics, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    checks = HealthChecks(
        sqlite_database, scheduler_running=lambda: True, metrics=metrics, clock=clock
    )
    server = HealthServer(checks, metrics)
    try:
        server.start("::1", 0)
    except HealthEndpointError:
        pytest.skip("this machine has no IPv6 loopback")
    try:
        response = await http.get(f"http://[::1]:{server.port}/healthz")
    finally:
        await server.stop()
    assert response.status_code == 200


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8081", "192.0.2.10"])
async def test_requests_naming_a_foreign_host_are_refused(
    host: str,
    sqlite_database: Database,
    metrics: Metrics,
    clock: FakeClock,
    http: httpx.AsyncClient,
) -> None:
    # A page in a browser on this machine could point its own name at 127.0.0.1 (DNS
    # rebinding); its requests then carry that name, not a loopback one.
    async with served(sqlite_database, metrics, clock) as url:
        for path in ("/healthz", "/metrics"):
            refused = await http.get(f"{url}{path}", headers={"Host": host})
            assert refused.status_code == 403
            assert b"sanad_" not in refused.content
        allowed = await http.get(f"{url}/healthz", headers={"Host": "localhost"})
        assert allowed.status_code == 200
