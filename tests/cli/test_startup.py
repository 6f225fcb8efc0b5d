"""The command line starts without the bot's heavy layers (docs/BENCHMARKS.md, "Command line
start-up").

``sanad --help`` and a caseworker's ``sanad caseworker open`` need only ``crypto``; the database
layer, the migrations and python-telegram-bot are imported inside the commands that use them. A
fresh interpreter is used, so that what other tests imported does not hide a module-level import.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("telegram", "sqlalchemy", "alembic")

_PROBE = """
import json, sys
import bot.cli
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[1:]))))
"""


def _loaded_by(statement: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", statement, *HEAVY],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_import_bot_cli_loads_no_telegram_database_or_migrations() -> None:
    assert _loaded_by(_PROBE) == []


def test_probe_sees_a_heavy_import() -> None:
    # The probe itself must be able to fail: importing a command's heavy layer is seen.
    assert _loaded_by(_PROBE.replace("import bot.cli", "import bot.cli, storage.migrate")) == [
        "alembic",
        "sqlalchemy",
    ]
