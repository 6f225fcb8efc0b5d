"""``sanad caseworker export``: advocacy statistics from the consented reports you hold.

Three forms, one command:

* ``--advocacy``: open the sealed report files given, count the consented ones, write the
  published (suppressed) tables, charts and JSON into ``--out`` (:mod:`desk.advocacy`);
* ``--signed``: the same reports' unsuppressed counts, signed with your key, to send to whoever
  merges the organisation's figures (:mod:`desk.advocacy.signed`);
* ``--merge``: check the signed exports given against the organisation key your key file pins,
  refuse any case counted twice, and publish the merged totals into ``--out``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crypto.header import EnvelopeKind
from crypto.keyfile import write_private_file
from crypto.sealed_file import open_sealed_file
from desk.advocacy.counts import Counts, DuplicateCase, count
from desk.advocacy.export import write_statistics
from desk.advocacy.records import AdvocacyRecord, advocacy_record
from desk.advocacy.signed import UntrustedExport, merge_exports, read_export, sign_export
from desk.advocacy.suppression import TooFewReports
from desk.errors import DeskError
from desk.inert import inert
from desk.opening import (
    OpeningKey,
    caseworker_identity,
    decryption_key,
    opening_key,
    refusals,
    trusted_file,
)
from desk.passphrase import PassphraseFileOption, read_passphrase


def register(app: typer.Typer) -> None:
    """Add ``export`` to ``sanad caseworker``."""
    app.command("export")(caseworker_export)


def caseworker_export(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Sealed report files (--advocacy, --signed) or signed exports (--merge).",
            dir_okay=False,
            exists=True,
        ),
    ],
    key: Annotated[
        Path,
        typer.Option("--key", help="Your caseworker key file.", dir_okay=False, exists=True),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder for the statistics, or the signed export file (--signed)."
        ),
    ],
    advocacy: Annotated[
        bool, typer.Option("--advocacy", help="Publish statistics from these reports.")
    ] = False,
    signed: Annotated[
        bool, typer.Option("--signed", help="Write your unsuppressed counts, signed.")
    ] = False,
    merge: Annotated[
        bool, typer.Option("--merge", help="Publish the merged totals of signed exports.")
    ] = False,
    certificate: Annotated[
        Path | None,
        typer.Option(
            "--certificate",
            help="Your caseworker certificate, as the admin gave it (--signed only).",
            dir_okay=False,
            exists=True,
        ),
    ] = None,
    hxl: Annotated[
        bool, typer.Option("--hxl", help="Add an HXL hashtag row to each CSV file.")
    ] = False,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Advocacy statistics from consented reports only; small numbers hidden (see
    docs/caseworkers.md, "Statistics and evidence packages")."""
    if [advocacy, signed, merge].count(True) != 1:
        raise DeskError("choose one of --advocacy, --signed and --merge")
    opening = opening_key(key, None, caseworker_only=True)
    try:
        if merge:
            _publish(_merged(files, opening), out, hxl)
            return
        counts = count(_records(files, opening, passphrase_file))
    except DuplicateCase as exc:
        raise DeskError(
            f"case {inert(exc.case_reference)} is counted twice: nothing was written",
            hint="give each case once; two caseworkers holding one case export it once only",
        ) from exc
    if advocacy:
        _publish(counts, out, hxl)
        return
    if certificate is None:
        raise DeskError(
            "--signed needs your certificate", hint="ask an admin for it (--certificate)"
        )
    identity = caseworker_identity(opening, read_passphrase(passphrase_file, creating=False))
    try:
        write_private_file(out, sign_export(counts, identity, certificate.read_bytes()))
    except FileExistsError as exc:
        raise DeskError(f"{out} already exists", hint="choose another --out") from exc
    typer.echo(f"Wrote {out}: {counts.total} consented report(s), unsuppressed and signed.")


def _records(
    files: list[Path], opening: OpeningKey, passphrase_file: Path | None
) -> list[AdvocacyRecord]:
    """The records of the consented reports among ``files`` (addenda count nothing)."""
    given = [path.read_bytes() for path in files]
    records = []
    with refusals("a report file"):
        for data in given:
            trusted_file(data, opening)  # every file checked before the passphrase is asked
        secret = decryption_key(opening, read_passphrase(passphrase_file, creating=False))
        for data in given:
            opened = open_sealed_file(data, secret, opening.organisation)
            if opened.kind is EnvelopeKind.REPORT:
                record = advocacy_record(opened.case_reference, opened.body)
                if record is not None:
                    records.append(record)
    return records


def _merged(files: list[Path], opening: OpeningKey) -> Counts:
    exports = []
    for path in files:
        try:
            exports.append(read_export(path.read_bytes(), opening.organisation))
        except UntrustedExport as exc:
            raise DeskError(
                f"refused {path}: {exc}", hint="nothing was written; ask its sender for it again"
            ) from exc
    for export in exports:
        typer.echo(
            f"{inert(export.certificate.label)}: {export.counts.total} report(s), "
            "signature and certificate verified"
        )
    return merge_exports(exports)


def _publish(counts: Counts, out: Path, hxl: bool) -> None:
    try:
        written = write_statistics(counts, out, hxl=hxl)
    except TooFewReports as exc:
        raise DeskError(str(exc), hint="nothing was written") from exc
    typer.echo(f"Wrote {len(written)} files into {out}: {counts.total} consented report(s).")
