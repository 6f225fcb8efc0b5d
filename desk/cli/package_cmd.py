"""``sanad caseworker package`` and ``sanad verify-package``: a signed evidence package of one
case, and its offline check (:mod:`desk.evidence`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from crypto.file_names import delivery_file_name
from crypto.fingerprint import caseworker_fingerprint
from crypto.keyfile import write_private_file
from crypto.sealed_file import open_sealed_file
from desk.errors import DeskError
from desk.evidence.package import CustodyEvent, build_package
from desk.evidence.verify import verify_package
from desk.inert import inert
from desk.opening import caseworker_identity, opening_key, organisation_key, refusals, trusted_file
from desk.passphrase import PassphraseFileOption, read_passphrase


def register(caseworker: typer.Typer) -> None:
    """Add ``package`` to ``sanad caseworker``."""
    caseworker.command("package")(caseworker_package)


def register_verify(top: typer.Typer) -> None:
    """Add ``verify-package`` to ``sanad``."""
    top.command("verify-package")(verify_package_command)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def caseworker_package(
    case: Annotated[str, typer.Argument(help="The case reference, e.g. K7Q-4M2P.")],
    key: Annotated[
        Path,
        typer.Option("--key", help="Your caseworker key file.", dir_okay=False, exists=True),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="The package to write (a .zip).", dir_okay=False)
    ],
    report_file: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="The sealed report file of this case "
            "[default: case-<CASE>-0.sanad in the current folder].",
            dir_okay=False,
        ),
    ] = None,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Write a signed evidence package of one case: its cleaned files, its answers, the sealed
    file the bot delivered and a manifest of their SHA-256 (with the SHA-256 of each file as the
    reporter sent it), signed with your key. Check one with `sanad verify-package`."""
    reference = case.strip().upper()
    source = report_file or Path(delivery_file_name(reference, 0))
    if not source.is_file():
        raise DeskError(f"{source} not found", hint="pass the report file of this case as --from")
    if out.exists():
        raise DeskError(f"{out} already exists", hint="choose another --out or move it away")
    data = source.read_bytes()
    with refusals("this report file"):
        opening = opening_key(key, None, caseworker_only=True)
        sealed = trusted_file(data, opening)  # I9: the bot's signature, before anything else
        if sealed.case_reference != reference:
            raise DeskError(
                f"{source} belongs to case {inert(sealed.case_reference)}, not {reference}"
            )
        identity = caseworker_identity(opening, read_passphrase(passphrase_file, creating=False))
        opened = open_sealed_file(data, identity.keys.encryption, opening.organisation)
    custody = [CustodyEvent("opened", _now()), CustodyEvent("packaged", _now())]
    package = build_package(opened, sealed, data, identity, custody)
    try:
        write_private_file(out, package)
    except FileExistsError as exc:
        raise DeskError(f"{out} already exists", hint="choose another --out") from exc
    typer.echo(
        f"Wrote {out}: {len(opened.body.attachments)} file(s), signed by you "
        f"(fingerprint {caseworker_fingerprint(identity.keys.public)})."
    )


def verify_package_command(
    package: Annotated[
        Path, typer.Argument(help="The evidence package (.zip).", dir_okay=False, exists=True)
    ],
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            metavar="KEY",
            help="The organisation signing key (sanad-sign1:...) to hold the package to "
            "[default: the one its manifest names; compare its fingerprint].",
        ),
    ] = None,
) -> None:
    """Check an evidence package offline: the caseworker's signature, every file's SHA-256 and
    the bot's signature on the delivered file. One line per check; exit 1 if any fails."""
    organisation = organisation_key(org) if org is not None else None
    checks = verify_package(package.read_bytes(), organisation)
    for check in checks:
        typer.echo(str(check))
    if not all(check.ok for check in checks):
        raise DeskError("this package does not verify: see the FAILED lines")
