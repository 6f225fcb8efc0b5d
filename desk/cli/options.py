"""What the key-file commands share: ``--force`` and the refusal to replace a key unasked.

The organisation's ``sanad org init`` (server side) and ``sanad caseworker init`` (here) both
create key files, so the server's command line imports these; never the reverse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crypto.keyfile import KeyFileExists
from desk.errors import DeskError

#: A folder this command makes for a private key or for what a sealed file held.
PRIVATE_DIR_MODE = 0o700
_REPLACE_HINT = "pass --force to replace it; its keys will be lost"

ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace an existing key file (its keys are lost).")
]


def refuse_existing(paths: list[Path], force: bool) -> None:
    """Refuse to go on if one of ``paths`` exists, unless ``force``.

    Checked before any key is generated or any passphrase asked, so nothing is half-done.
    """
    for path in paths:
        if path.exists() and not force:
            raise DeskError(f"{path} already exists", hint=_REPLACE_HINT)


def already_exists(exc: KeyFileExists) -> DeskError:
    """The refusal for a key file that appeared after :func:`refuse_existing` looked."""
    return DeskError(str(exc), hint=_REPLACE_HINT)
