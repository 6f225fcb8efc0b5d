"""Passphrases for key files, read the one way every ``sanad`` command reads them (DESIGN.md §9).

In order: ``--passphrase-file`` (:data:`PassphraseFileOption`), the :data:`PASSPHRASE_ENV`
environment variable, or a ``getpass`` prompt (asked twice when creating a key). A passphrase is
never echoed, logged or written anywhere; this module only hands it to the key file functions.

It lives on the caseworker's side, which the server's commands may import but never the reverse:
``bot.cli.passphrase`` hands the same function to the admin commands.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from desk.errors import DeskError

PASSPHRASE_ENV = "SANAD_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret # nosec B105
# A key file is only as strong as its passphrase once it is copied off a seized machine.
MIN_NEW_PASSPHRASE_CHARS = 12

PassphraseFileOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"Read the passphrase from this file instead of {PASSPHRASE_ENV} or a prompt.",
        dir_okay=False,
        exists=True,
    ),
]


def _ask(prompt: str) -> str:
    try:
        return getpass.getpass(prompt)
    except KeyboardInterrupt:
        # Ctrl-C leaves the cursor after the prompt: the CLI's "sanad: interrupted" goes below.
        print(file=sys.stderr)
        raise


def read_passphrase(
    passphrase_file: Path | None, *, creating: bool, key_file: str | None = None
) -> str:
    """The passphrase from the file, the environment or a prompt.

    ``key_file`` names the file in the prompt (``Passphrase for org-recovery.key (new): ``), for
    commands that open two. With ``creating`` (a new key file) the prompt asks twice and a
    passphrase shorter than :data:`MIN_NEW_PASSPHRASE_CHARS` is refused. Raises
    :class:`DeskError` when the passphrase is empty, or when there is neither a file, the
    variable nor a terminal to ask on.
    """
    for_what = f" for {key_file}" if key_file else ""
    if passphrase_file is not None:
        passphrase = passphrase_file.read_text(encoding="utf-8").rstrip("\r\n")
    elif PASSPHRASE_ENV in os.environ:
        passphrase = os.environ[PASSPHRASE_ENV]
    elif not sys.stdin.isatty():
        raise DeskError(
            "no passphrase given and no terminal to ask for one",
            hint=f"set {PASSPHRASE_ENV} or pass --passphrase-file",
        )
    else:
        passphrase = _ask(f"Passphrase{for_what}: ")
        if creating and _ask(f"Same passphrase again{for_what}: ") != passphrase:
            raise DeskError("the two passphrases differ", hint="run the command again")
    if not passphrase:
        raise DeskError("the passphrase is empty")
    if creating and len(passphrase) < MIN_NEW_PASSPHRASE_CHARS:
        raise DeskError(
            f"a new passphrase needs at least {MIN_NEW_PASSPHRASE_CHARS} characters",
            hint="several unrelated words are easy to remember and hard to guess",
        )
    return passphrase
