"""One case's sealed report file, opened with the caseworker's own key: what ``reply`` and
``package`` share, from the case reference typed to the opened report.

The order is :mod:`desk.opening`'s: the file is checked (bot signature, certificate, pinned
organisation key, sealed to this key, the case named) before the passphrase is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from crypto.file_names import delivery_file_name
from crypto.keyfile import CaseworkerIdentity
from crypto.sealed_file import OpenedFile, SealedFile, open_sealed_file
from desk.errors import DeskError
from desk.inert import inert
from desk.opening import caseworker_identity, opening_key, refusals, trusted_file
from desk.passphrase import read_passphrase

CaseArgument = Annotated[str, typer.Argument(help="The case reference, e.g. K7Q-4M2P.")]
CaseworkerKeyOption = Annotated[
    Path, typer.Option("--key", help="Your caseworker key file.", dir_okay=False, exists=True)
]
ReportFileOption = Annotated[
    Path | None,
    typer.Option(
        "--from",
        help="The sealed report file of this case you received "
        "[default: case-<CASE>-0.sanad in the current folder].",
        dir_okay=False,
    ),
]


@dataclass(frozen=True)
class OpenedCase:
    """The case's file as delivered, its verified header, the caseworker's keys, the report."""

    data: bytes
    sealed: SealedFile
    identity: CaseworkerIdentity
    opened: OpenedFile


def case_source(reference: str, report_file: Path | None) -> Path:
    """The report file given, or the case's delivery file name in the current folder."""
    source = report_file or Path(delivery_file_name(reference, 0))
    if not source.is_file():
        raise DeskError(f"{source} not found", hint="pass the report file of this case as --from")
    return source


def open_case(reference: str, source: Path, key: Path, passphrase_file: Path | None) -> OpenedCase:
    """The report of case ``reference`` in ``source``, opened with the caseworker key ``key``."""
    data = source.read_bytes()
    with refusals("this report file"):
        opening = opening_key(key, None, caseworker_only=True)
        # I9: nothing in the file is trusted before it chains to the organisation key.
        sealed = trusted_file(data, opening)
        if sealed.case_reference != reference:
            raise DeskError(
                f"{source} belongs to case {inert(sealed.case_reference)}, not {reference}"
            )
        identity = caseworker_identity(opening, read_passphrase(passphrase_file, creating=False))
        opened = open_sealed_file(data, identity.keys.encryption, opening.organisation)
    return OpenedCase(data, sealed, identity, opened)
