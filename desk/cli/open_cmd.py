"""``sanad caseworker open``: verify and decrypt a sealed report offline, print it, save its files.

Everything printed from the file is :func:`desk.inert.inert` (DESIGN.md §4); attachments are
written only into the folder the caseworker names, owner-only, never over an existing file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from crypto.body import Attachment
from crypto.file_names import delivery_file_name
from crypto.keyfile import write_private_file
from crypto.originals import describe_change
from crypto.sealed_file import OpenedFile, SealedFile, open_sealed_file
from crypto.sealed_parts import is_sealed_part
from desk.cli.options import PRIVATE_DIR_MODE
from desk.errors import DeskError
from desk.evidence.custody import CustodyLog, CustodyLogError
from desk.inert import inert, inert_lines
from desk.manifest import OpenedManifest
from desk.opening import opening_key, refusals, trusted_file, unlock, whole_file
from desk.passphrase import PassphraseFileOption, read_passphrase


def register(app: typer.Typer) -> None:
    """Add ``open`` to ``sanad caseworker``."""
    app.command("open")(caseworker_open)


def attachment_paths(out: Path, attachments: tuple[Attachment, ...]) -> list[Path]:
    """Where each attachment goes: its own (already safe) name, made unique within the report.

    Names were checked as safe file names when the body was decoded (no separators, no leading
    dot), so each path stays inside ``out``.
    """
    paths: list[Path] = []
    taken: set[str] = set()
    for attachment in attachments:
        name = attachment.file_name
        stem, dot, extension = name.rpartition(".")
        if not dot:
            stem, extension = name, ""
        number = 1
        while name.casefold() in taken:
            number += 1
            name = f"{stem}-{number}{dot}{extension}"
        taken.add(name.casefold())
        paths.append(out / name)
    return paths


def _write_attachments(out: Path, attachments: tuple[Attachment, ...]) -> list[Path]:
    paths = attachment_paths(out, attachments)
    existing = [p for p in paths if p.exists()]
    if existing:  # refuse before writing anything, so a second open never half-overwrites
        raise DeskError(
            f"{existing[0]} already exists", hint="choose another --out folder or move it away"
        )
    out.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    for path, attachment in zip(paths, attachments, strict=True):
        # Exclusive: never follow or replace something created since the check above.
        write_private_file(path, attachment.data)
    return paths


def _print_report(opened: OpenedFile) -> None:
    """Print the report; everything from the file is :func:`inert` (DESIGN.md §4)."""
    typer.echo(f"Case: {inert(opened.case_reference)}")
    typer.echo(f"Kind: {opened.kind.name.lower()} (sequence {opened.sequence})")
    for answer in opened.body.answers:
        lines = inert_lines(answer.value)
        typer.echo(f"{inert(answer.key)}: {lines[0]}")
        for line in lines[1:]:
            typer.echo(f"    {line}")


def _log_open(log: CustodyLog, case_reference: str, event: str) -> None:
    """Add this open to the custody log (an evidence package's history; for the recovery key,
    the record of its use). A damaged log, or one that cannot be written (a recovery key on a
    read-only stick), is said, not fatal: the report still needs reading."""
    try:
        log.record(case_reference, event, dt.datetime.now(dt.UTC).replace(microsecond=0))
    except CustodyLogError as exc:
        typer.echo(f"warning: {exc}: this open was not recorded", err=True)


def _print_originals(attachments: tuple[Attachment, ...]) -> None:
    """For each file, what the bot received before cleaning it (DESIGN.md §4, "Evidence
    integrity"): a lawyer compares this SHA-256 with the reporter's original."""
    for attachment in attachments:
        original = attachment.original
        name = inert(attachment.file_name)
        if original is None:
            typer.echo(f"{name}: no record of the file as received (sent before records began)")
            continue
        typer.echo(
            f"{name}: received as {inert(original.media_type)}, {original.size} bytes, "
            f"SHA-256 {original.sha256_hex}"
        )
        for code in original.changes:
            typer.echo(f"    cleaning: {inert(describe_change(code))}")


def caseworker_open(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="The sealed report or addendum file, or all its parts "
            "(case-...-N.part1of3.sanad ...), in any order.",
            dir_okay=False,
            exists=True,
        ),
    ],
    key: Annotated[
        Path,
        typer.Option(
            "--key",
            help="Your caseworker key file, or the organisation recovery key file.",
            dir_okay=False,
            exists=True,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the attachments (created 0700).", file_okay=False),
    ] = None,
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            metavar="KEY",
            help="The organisation signing key; only with the recovery key file, which pins none.",
        ),
    ] = None,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Verify and decrypt a sealed report or addendum offline and print it; attachments go to
    --out.

    The file must be signed by your organisation's bot, whose certificate must chain to the
    organisation key your key file pins; otherwise it is refused before anything is decrypted.
    A report too large for one Telegram upload arrives as numbered parts: give them all, and
    each must be signed by the bot too. Each open is added to the custody log beside the key
    file (recovery-custody.log for the recovery key).
    """
    given = [file.read_bytes() for file in files]
    with refusals("this file"):
        opening = opening_key(key, org, caseworker_only=False)
        data = whole_file(given, opening)
        sealed = trusted_file(data, opening)
        passphrase = read_passphrase(passphrase_file, creating=False)
        unlocked = unlock(key, opening.header, passphrase, organisation=opening.organisation)
        opened = open_sealed_file(data, unlocked.encryption, opening.organisation)
    _log_open(unlocked.custody, opened.case_reference, unlocked.opened)
    _print_report(opened)
    # I8: a crash between Telegram's acknowledgement and its record can send a file twice; say
    # so when it repeats one opened into this folder, rather than let it pass for a new report.
    manifest = OpenedManifest(out) if out is not None else None
    if manifest is not None and manifest.repeats(*_manifest_key(sealed)):
        typer.echo(
            f"This file repeats {inert(sealed.case_reference)} #{sealed.sequence}, already "
            f"opened into {out}: the same report, sent twice."
        )
    attachments = opened.body.attachments
    _print_originals(attachments)
    if attachments and out is None:
        typer.echo(f"{len(attachments)} attachment(s) not saved: pass --out DIR to save them.")
    elif attachments and out is not None:
        for path, attachment in zip(_write_attachments(out, attachments), attachments, strict=True):
            typer.echo(
                f"Saved {path.parent / inert(path.name)} ({inert(attachment.media_type)}, "
                f"{len(attachment.data)} bytes)"
            )
    if out is not None and is_sealed_part(given[0]):
        _save_joined_file(out, sealed, data)
    if manifest is not None:
        manifest.record(*_manifest_key(sealed))


def _save_joined_file(out: Path, sealed: SealedFile, data: bytes) -> None:
    """Keep the file the parts joined into beside the attachments, under the name a whole file
    has, so ``caseworker reply --from`` can use it. Still sealed, so harmless without the key;
    one already there (the same parts opened again) is left as it is."""
    path = out / delivery_file_name(sealed.case_reference, sealed.sequence)
    if path.exists():
        return
    out.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    write_private_file(path, data)
    typer.echo(f"Saved {path}: the parts joined into one file (for caseworker reply --from)")


def _manifest_key(sealed: SealedFile) -> tuple[str, int, bytes]:
    return sealed.case_reference, sealed.sequence, sealed.body_sealed
