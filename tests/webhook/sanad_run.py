"""``sanad run`` as a real subprocess against the in-process local Bot API server.

Shared by the webhook and logging end-to-end tests: :func:`config_toml` writes the few tables
they need, :func:`sanad_run` starts the bot with its stderr captured to a file and always stops
it (SIGTERM, as an operator would, then SIGKILL if it does not end).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from crypto.keys import ORG_SIGNING_PREFIX, OrganisationKeys

Scalar = str | int | float | bool
STOP_TIMEOUT = 15.0


def _toml_value(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    return repr(value)


def config_toml(
    *,
    api_url: str,
    folder: Path,
    org: OrganisationKeys,
    token_env: str,
    tables: Mapping[str, Mapping[str, Scalar]] | None = None,
) -> str:
    """A configuration for a bot on the local server, with a SQLite file in ``folder``.

    ``tables`` adds or overrides keys, e.g. ``{"logging": {"level": "debug"}}``.
    """
    base: dict[str, dict[str, Scalar]] = {
        "telegram": {"token_env": token_env, "api_base_url": api_url},
        "organisation": {
            "signing_public_key": org.signing.public_key.to_text(ORG_SIGNING_PREFIX),
            "recovery_public_key": org.recovery.public_key.to_text(),
        },
        "server": {"state_dir": str(folder / "state")},
        "delivery": {"batch_interval_seconds": 0.5, "jitter_seconds": 0.2},
    }
    for name, keys in (tables or {}).items():
        base.setdefault(name, {}).update(keys)
    return "\n".join(
        f"[{name}]\n" + "".join(f"{key} = {_toml_value(v)}\n" for key, v in keys.items())
        for name, keys in base.items()
    )


@contextlib.asynccontextmanager
async def sanad_run(
    config: Path, stderr: Path, env: Mapping[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``sanad run --config CONFIG`` with ``env`` added; stderr (its log) goes to ``stderr``."""
    with stderr.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--config", str(config),
            env={**os.environ, **env}, stdin=asyncio.subprocess.DEVNULL,
            stdout=log, stderr=log,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
