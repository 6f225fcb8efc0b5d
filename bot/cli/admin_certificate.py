"""``sanad admin certificate ID --out FILE``: a caseworker's certificate, for them to keep.

A caseworker signs the unsuppressed counts they send for the organisation's statistics (``sanad
caseworker export --signed``), and whoever merges them checks the certificate each export
carries against the organisation key (desk/advocacy/signed.py). ``sanad admin approve`` makes
that certificate, and it lives in the database; this writes it to a file the admin hands over.
It holds nothing secret: the organisation's signature over the caseworker's keys, label, chat
and validity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.config_cmd import DEFAULT_CONFIG_PATH, ConfigOption, load_settings
from bot.cli.deployment import on_database
from bot.errors import SanadError


def register(admin_app: typer.Typer) -> None:
    """Add ``certificate`` to the ``sanad admin`` group."""
    admin_app.command("certificate")(certificate)


def certificate(
    who: Annotated[str, typer.Argument(metavar="ID", help="The caseworker's id or label.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write.", dir_okay=False)],
    config: ConfigOption = DEFAULT_CONFIG_PATH,
) -> None:
    """Write a caseworker's certificate to a file, for them to pass to `sanad caseworker export
    --signed --certificate FILE`. Only a certificate valid today under the pinned organisation
    key is written."""
    from bot.services.caseworkers import resolve_caseworker
    from crypto.certificates import CertificateError, verify_certificate
    from crypto.keyfile import write_private_file
    from storage.engine import Database

    settings = load_settings(config)
    if out.exists():
        raise SanadError(f"{out} already exists", hint="choose another --out or move it away")

    async def work(db: Database) -> bytes | None:
        async with db.sessionmaker() as session:
            return (await resolve_caseworker(session, who)).certificate

    data = on_database(settings, work)
    if data is None:
        raise SanadError(
            "this caseworker has no certificate", hint="approve them first (sanad admin approve)"
        )
    try:
        verified = verify_certificate(data, settings.organisation.signing_public_key)
    except CertificateError as exc:
        raise SanadError(f"this caseworker's certificate is not valid: {exc}") from exc
    write_private_file(out, data)
    typer.echo(f"Wrote {out}: the certificate of {verified.label}, valid until {verified.expires}.")
