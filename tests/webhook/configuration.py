"""A configuration file for ``sanad run`` against the in-process local Bot API server.

Shared by the webhook and logging end-to-end tests, which need keys in tables that
``tests.delivery.conftest.config_text`` writes whole (``[telegram]``, ``[logging]``,
``[limits]``); the bot itself runs through ``tests.support.processes.sanad_run``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from bot.bot_identity import certify_bot
from crypto.keys import ORG_SIGNING_PREFIX, OrganisationKeys

Scalar = str | int | float | bool


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
    token_env: str | None,
    tables: Mapping[str, Mapping[str, Scalar]] | None = None,
) -> str:
    """A configuration for a bot on the local server, with a SQLite file in ``folder``.

    ``tables`` adds or overrides keys, e.g. ``{"logging": {"level": "debug"}}``. The bot key in
    ``folder/state`` is certified by ``org``, as ``sanad admin certify-bot`` leaves it: without
    that certificate ``sanad run`` does not start (I9). Without ``token_env``, ``tables`` names
    the ``telegram.token_file``.
    """
    certify_bot(folder / "state", org.signing)
    token: dict[str, Scalar] = {} if token_env is None else {"token_env": token_env}
    base: dict[str, dict[str, Scalar]] = {
        "telegram": {**token, "api_base_url": api_url},
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
