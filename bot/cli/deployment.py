"""What the commands acting on a deployment share: its database, and the organisation key files
an admin brings to it (DESIGN.md §9).

The organisation's private keys are loaded only for the one operation that needs them (I5: an
admin may run these commands on the server, but the key files and their passphrases come with
the admin and leave with them). Before a passphrase is asked or Argon2id runs, a key file's
public header is checked against the key pinned in the configuration: a wrong file is one clear
line, not a minute of key derivation followed by a certificate that would never verify.

The database layer is imported inside the functions, never at module level, so that
``sanad --help`` and the caseworker's commands do not load it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from bot.cli.passphrase import read_passphrase
from bot.errors import SanadError
from crypto.keyfile import (
    KeyKind,
    load_org_recovery_key,
    load_org_signing_key,
    read_key_file_header,
)
from crypto.keys import Ed25519SigningKey, X25519SecretKey

if TYPE_CHECKING:
    from bot.config import Config
    from storage.engine import Database

_T = TypeVar("_T")


def on_database(config: Config, work: Callable[[Database], Awaitable[_T]]) -> _T:
    """Run ``work`` against the configured database and close it, whatever happens.

    The audit log entries ``work`` appends are sealed with the bot key from the state directory,
    as the bot's own are (``bot.audit_head``); where there is no bot key (an admin's machine)
    none is made and they stay unsigned. A driver or file system failure becomes one line with
    a hint: :func:`storage.engine.explain_failure`'s when it knows the cause (a full disk, a
    folder not writable, PostgreSQL down or refusing), else a :class:`SanadError`.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from bot.audit_head import install_existing_audit_seal
    from storage.engine import explain_failure, open_database

    async def run() -> _T:
        db = open_database(config.database.url)
        try:
            install_existing_audit_seal(db, config.server.state_dir)
            return await work(db)
        except (OSError, SQLAlchemyError) as exc:
            # The driver's text may quote SQL and values; it stays in __cause__, unprinted.
            raise explain_failure(config.database.url, exc) or SanadError(
                "the database could not be read",
                hint="check database.url, and run `sanad db upgrade` on a new deployment",
            ) from exc
        finally:
            await db.close()

    return asyncio.run(run())


def key_file_option(flag: str, help_text: str) -> Any:
    """A required option naming an existing key file (Typer checks it exists, not a folder)."""
    return typer.Option(flag, help=help_text, exists=True, dir_okay=False)


def _check_organisation_key(path: Path, kind: KeyKind, pinned: bytes, what: str) -> None:
    """Refuse ``path`` unless it is a ``kind`` key file holding the ``pinned`` public key.

    Reads only the file's public header: no passphrase, no Argon2id.
    """
    header = read_key_file_header(path)
    if header.kind is not kind:
        raise SanadError(
            f"{path} is {header.kind.description}, not the {what} key file",
            hint=f"pass the organisation's {what} key file made by `sanad org init`",
        )
    if header.public_keys != pinned:
        raise SanadError(
            f"{path} is not the {what} key pinned in the configuration",
            hint="check the [organisation] table of the configuration and the key file",
        )


def open_signing_key(
    config: Config, path: Path, passphrase_file: Path | None
) -> Ed25519SigningKey:
    """The organisation signing key in ``path``, once it is known to be the pinned one."""
    pinned = config.organisation.signing_public_key.raw
    _check_organisation_key(path, KeyKind.ORG_SIGNING, pinned, "organisation signing")
    return load_org_signing_key(path, read_passphrase(passphrase_file, creating=False))[1]


def open_recovery_key(config: Config, path: Path, passphrase_file: Path | None) -> X25519SecretKey:
    """The organisation recovery key in ``path``, once it is known to be the pinned one."""
    pinned = config.organisation.recovery_public_key.raw
    _check_organisation_key(path, KeyKind.ORG_RECOVERY, pinned, "recovery")
    return load_org_recovery_key(path, read_passphrase(passphrase_file, creating=False))[1]
