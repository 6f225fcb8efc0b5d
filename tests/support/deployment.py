"""A deployment's files for a bot on the local Bot API server: configuration, SQLite database,
a certified state folder (without a bot certificate ``sanad run`` does not start, I9)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.local_api import LocalBotApi
from crypto.keys import OrganisationKeys
from tests.delivery.conftest import certified_state_dir, config_text

# A whole report is about twenty updates from one chat, above the deployment's 20 a minute.
LIMITS = {"max_messages_per_minute": 600, "flood_burst": 600}
DELIVERY = {"batch_interval_seconds": 600.0, "jitter_seconds": 0.0}


@dataclass
class Deployment:
    """One deployment's files: configuration, database, state folder, organisation keys."""

    folder: Path
    org: OrganisationKeys
    config_path: Path

    @property
    def database_path(self) -> Path:
        return self.folder / "sanad.sqlite3"

    def at_rest(self) -> dict[str, bytes]:
        """Every file under the deployment's folder (database, WAL, state) by name."""
        return {str(p): p.read_bytes() for p in self.folder.rglob("*") if p.is_file()}


def make_deployment(
    api: LocalBotApi, folder: Path, *, limits: dict[str, Any] | None = None
) -> Deployment:
    """Write a configuration for a bot on ``api`` with its files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    org = OrganisationKeys.generate()
    chosen = LIMITS if limits is None else limits
    config_path = folder / "config.toml"
    config_path.write_text(
        config_text(
            api_url=api.url,
            database_url=f"sqlite+aiosqlite:///{folder / 'sanad.sqlite3'}",
            org=org,
            state_dir=certified_state_dir(folder / "state", org),
            delivery=DELIVERY,
        )
        + "\n[limits]\n"
        + "\n".join(f"{key} = {value!r}" for key, value in chosen.items())
        + "\n"
    )
    return Deployment(folder, org, config_path)
