"""``sanad caseworker package`` and ``sanad verify-package``: a signed evidence package of one
case, and its offline check (:mod:`desk.evidence`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from crypto.fingerprint import caseworker_fingerprint
from crypto.keyfile import write_private_file
from desk.cli.case_file import (
    CaseArgument,
    CaseworkerKeyOption,
    ReportFileOption,
    case_source,
    open_case,
)
from desk.errors import DeskError
from desk.evidence.custody import CustodyLog, CustodyLogError, UnverifiedCustodyLog
from desk.evidence.package import build_package
from desk.evidence.verify import verify_package
from desk.opening import organisation_key
from desk.passphrase import PassphraseFileOption


def register(caseworker: typer.Typer) -> None:
    """Add ``package`` to ``sanad caseworker``."""
    caseworker.command("package")(caseworker_package)


def register_verify(top: typer.Typer) -> None:
    """Add ``verify-package`` to ``sanad``."""
    top.command("verify-package")(verify_package_command)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def caseworker_package(
    case: CaseArgument,
    key: CaseworkerKeyOption,
    out: Annotated[
        Path, typer.Option("--out", help="The package to write (a .zip).", dir_okay=False)
    ],
    report_file: ReportFileOption = None,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Write a signed evidence package of one case: its cleaned files, its answers, the sealed
    file the bot delivered and a manifest of their SHA-256 (with the SHA-256 of each file as the
    reporter sent it), signed with your key. Check one with `sanad verify-package`."""
    reference = case.strip().upper()
    source = case_source(reference, report_file)
    if out.exists():
        raise DeskError(f"{out} already exists", hint="choose another --out or move it away")
    found = open_case(reference, source, key, passphrase_file)
    log = CustodyLog.beside(key, found.identity.keys)
    now = _now()
    try:
        custody = log.with_packaging(reference, now)
    except UnverifiedCustodyLog as exc:
        raise DeskError(f"{exc}: no package was written", hint=exc.hint) from exc
    package = build_package(found.opened, found.sealed, found.data, found.identity, custody)
    # Logged before the package is written: a package whose making the log does not hold would
    # state a history the log cannot back.
    try:
        log.record_packaging(reference, now)
    except CustodyLogError as exc:
        raise DeskError(
            f"{exc}: no package was written",
            hint="make room on the disk or make the log's folder writable, then package again",
        ) from exc
    try:
        write_private_file(out, package)
    except FileExistsError as exc:
        raise DeskError(f"{out} already exists", hint="choose another --out") from exc
    typer.echo(
        f"Wrote {out}: {len(found.opened.body.attachments)} file(s), signed by you "
        f"(fingerprint {caseworker_fingerprint(found.identity.keys.public)})."
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
