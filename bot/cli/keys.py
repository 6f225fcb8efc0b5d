"""Key commands: ``sanad org init`` and ``sanad caseworker init|open|reply`` (DESIGN.md §9).

These run on people's own machines, never on the server (I5): the private keys they create live
only in passphrase-protected key files (docs/crypto.md, "Key files"), always with the real
Argon2id settings (SENSITIVE for the organisation, MODERATE for caseworkers).

Passphrases are read by :mod:`bot.cli.passphrase`. Nothing here loads the database layer or
Telegram: a caseworker's machine needs only ``crypto``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.inert import inert, inert_lines
from bot.cli.passphrase import PassphraseFileOption, read_passphrase
from bot.errors import SanadError
from bot.services.sealed_files import OpenedManifest, delivery_file_name
from crypto.body import Attachment
from crypto.enrolment import encode_enrolment_code, validate_label
from crypto.errors import NotForThisKey, OpenFailure, UnsupportedVersion
from crypto.fingerprint import (
    caseworker_fingerprint,
    organisation_fingerprint,
    organisation_signing_fingerprint,
)
from crypto.keyfile import (
    CaseworkerIdentity,
    KeyFileExists,
    KeyFileHeader,
    KeyKind,
    WrongPassphrase,
    load_caseworker_identity,
    load_org_recovery_key,
    read_key_file_header,
    save_caseworker_key,
    save_org_recovery_key,
    save_org_signing_key,
)
from crypto.keys import (
    ORG_SIGNING_PREFIX,
    CaseworkerKeys,
    Ed25519PublicKey,
    MalformedKey,
    OrganisationKeys,
    X25519SecretKey,
)
from crypto.mailbox_messages import ReplySigner, ReplyStatement, seal_reply, write_reply_file
from crypto.sealed_file import (
    OpenedFile,
    SealedFile,
    UntrustedFile,
    open_sealed_file,
    read_sealed_file,
)
from crypto.sealed_parts import PartsDoNotJoin, is_sealed_part, join_sealed_parts

org_app = typer.Typer(
    help="Organisation keys (run on an admin's offline machine).", no_args_is_help=True
)
caseworker_app = typer.Typer(
    help="Caseworker keys and sealed files (run on your own machine).", no_args_is_help=True
)

SIGNING_FILE = "org-signing.key"
RECOVERY_FILE = "org-recovery.key"
ORG_LABEL = "organisation"
_PRIVATE_DIR_MODE = 0o700
_PRIVATE_FILE_MODE = 0o600

ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace an existing key file (its keys are lost).")
]


def refuse_existing(paths: list[Path], force: bool) -> None:
    """Refuse to go on if one of ``paths`` exists, unless ``force``.

    Checked before any key is generated or any passphrase asked, so nothing is half-done.
    """
    for path in paths:
        if path.exists() and not force:
            raise SanadError(
                f"{path} already exists", hint="pass --force to replace it; its keys will be lost"
            )


def _already_exists(exc: KeyFileExists) -> SanadError:
    return SanadError(str(exc), hint="pass --force to replace it; its keys will be lost")


@org_app.command("init")
def org_init(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder for org-signing.key and org-recovery.key.", file_okay=False
        ),
    ],
    force: ForceOption = False,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Create the organisation signing and recovery key files.

    Both files are protected by the same passphrase, with Argon2id SENSITIVE (about a second or
    more each). Ends by printing the two lines to paste into the [organisation] table.
    """
    signing_path, recovery_path = out / SIGNING_FILE, out / RECOVERY_FILE
    refuse_existing([signing_path, recovery_path], force)
    passphrase = read_passphrase(passphrase_file, creating=True)
    out.mkdir(mode=_PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    keys = OrganisationKeys.generate()
    try:
        save_org_signing_key(signing_path, keys.signing, ORG_LABEL, passphrase, force=force)
        save_org_recovery_key(recovery_path, keys.recovery, ORG_LABEL, passphrase, force=force)
    except KeyFileExists as exc:
        raise _already_exists(exc) from exc
    signing_public, recovery_public = keys.signing.public_key, keys.recovery.public_key
    typer.echo(f"Wrote {signing_path} and {recovery_path} (mode 0600). Keep them offline.")
    # The line a caseworker's `caseworker init --org` prints too: read aloud at each enrolment.
    typer.echo(f"Organisation fingerprint: {organisation_signing_fingerprint(signing_public)}")
    typer.echo(
        "Signing and recovery keys fingerprint: "
        f"{organisation_fingerprint(signing_public, recovery_public)}"
    )
    typer.echo("Paste these two lines into the [organisation] table of config.toml:")
    typer.echo(f'signing_public_key = "{signing_public.to_text(prefix=ORG_SIGNING_PREFIX)}"')
    typer.echo(f'recovery_public_key = "{recovery_public.to_text()}"')


def _organisation_key(text: str) -> Ed25519PublicKey:
    """The organisation signing key from its ``sanad-sign1:...`` text, or one clear refusal."""
    try:
        return Ed25519PublicKey.from_text(
            text.strip(), ORG_SIGNING_PREFIX, "the organisation signing key"
        )
    except MalformedKey as exc:
        raise SanadError(
            "--org is not an organisation signing key",
            hint="copy the signing_public_key value (sanad-sign1:...) the admin gave you",
        ) from exc


OrgOption = Annotated[
    str,
    typer.Option(
        "--org",
        metavar="KEY",
        help="The organisation signing key (sanad-sign1:...), as the admin gave it to you.",
    ),
]


@caseworker_app.command("init")
def caseworker_init(
    key: Annotated[Path, typer.Option("--key", help="Key file to create.", dir_okay=False)],
    name: Annotated[
        str, typer.Option("--name", help="Your label as the organisation knows you (short).")
    ],
    org: OrgOption,
    force: ForceOption = False,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Create your caseworker key file pinning your organisation's key; print your enrolment
    code, your fingerprint and the organisation's fingerprint.

    Send the enrolment code to the bot as /enroll CODE, then read your fingerprint to an admin
    (by voice or in person) and hear theirs: the admin's organisation fingerprint must be the one
    printed here. Every file you open later must come from that organisation (I9).
    """
    label = validate_label(name)
    organisation = _organisation_key(org)
    refuse_existing([key], force)
    passphrase = read_passphrase(passphrase_file, creating=True)
    if not key.parent.exists():
        # The folder of a private key is private too: 0700 when this command makes it.
        key.parent.mkdir(mode=_PRIVATE_DIR_MODE, parents=True)
    keys = CaseworkerKeys.generate()
    try:
        save_caseworker_key(key, keys, label, passphrase, organisation=organisation, force=force)
    except KeyFileExists as exc:
        raise _already_exists(exc) from exc
    typer.echo(f"Wrote {key} (mode 0600).")
    typer.echo(f"Enrolment code: {encode_enrolment_code(label, keys.public)}")
    typer.echo(f"Fingerprint: {caseworker_fingerprint(keys.public)}")
    typer.echo(f"Organisation fingerprint: {organisation_signing_fingerprint(organisation)}")


@dataclass(frozen=True)
class _OpeningKey:
    """A key file that may open sealed files, and the organisation key files must chain to."""

    path: Path
    header: KeyFileHeader
    organisation: Ed25519PublicKey


def _opening_key(key_file: Path, org: str | None, *, caseworker_only: bool) -> _OpeningKey:
    """The key file's public header and the organisation key to verify files against.

    A caseworker key file pins that key (``init --org``); the recovery key file pins none, so
    whoever opens with it names the organisation key with ``--org`` (unless ``caseworker_only``,
    for replies, which only a caseworker signs). Read without a passphrase, so that an untrusted
    file is refused before Argon2id runs.
    """
    header = read_key_file_header(key_file)
    if caseworker_only and header.kind is not KeyKind.CASEWORKER:
        raise SanadError("replies are signed with a caseworker key file")
    if header.encryption_key is None:
        raise SanadError(
            "this is the organisation signing key, which cannot open reports",
            hint=f"use your caseworker key file or the organisation's {RECOVERY_FILE}",
        )
    given = _organisation_key(org) if org is not None else None
    pinned = header.organisation
    if pinned is not None and given is not None and given != pinned:
        raise SanadError(
            "--org is not the organisation key your key file pins",
            hint="leave out --org: your key file already names your organisation",
        )
    organisation = pinned or given
    if organisation is None:
        raise SanadError(
            "the recovery key file pins no organisation key",
            hint="pass the organisation signing key as --org sanad-sign1:...",
        )
    return _OpeningKey(key_file, header, organisation)


def _whole_file(given: list[bytes], key: _OpeningKey) -> bytes:
    """The sealed report file given as itself, or put back together from its parts.

    Every part must be signed by the organisation's bot, and the parts must make exactly one
    file (docs/crypto.md, "Parts of a sealed report file"); the file is then checked as a whole
    file is. A part given twice byte for byte (I8's repeat) counts once.
    """
    parts = [data for data in given if is_sealed_part(data)]
    if not parts and len(given) == 1:
        return given[0]
    if len(parts) != len(given):
        raise SanadError(
            "give one sealed report file, or the parts of one",
            hint="a file sent in parts is named case-...-N.partKofM.sanad; pass every part",
        )
    return join_sealed_parts(parts, key.organisation)


def _trusted_file(data: bytes, key: _OpeningKey) -> SealedFile:
    """The sealed file, once its bot signature chains to the organisation key (I9) and it is
    sealed to ``key``; checked before any passphrase is asked or anything decrypted."""
    sealed = read_sealed_file(data, key.organisation)
    if key.header.encryption_key is None or key.header.encryption_key.key_id != sealed.wrap.key_id:
        raise NotForThisKey
    return sealed


def _caseworker_identity(key: _OpeningKey, passphrase_file: Path | None) -> CaseworkerIdentity:
    """The opened caseworker key file, if its authenticated organisation key is the one the
    file was verified against (the header read earlier could have been swapped since)."""
    identity = load_caseworker_identity(key.path, read_passphrase(passphrase_file, creating=False))
    if identity.organisation != key.organisation:
        raise SanadError(
            "your key file changed while this command ran: nothing was opened",
            hint="run the command again",
        )
    return identity


def _decryption_key(key: _OpeningKey, passphrase_file: Path | None) -> X25519SecretKey:
    """The X25519 key of a caseworker or recovery key file (see :func:`_opening_key`)."""
    if key.header.kind is KeyKind.CASEWORKER:
        return _caseworker_identity(key, passphrase_file).keys.encryption
    return load_org_recovery_key(key.path, read_passphrase(passphrase_file, creating=False))[1]


@contextlib.contextmanager
def _refusals(what: str) -> Iterator[None]:
    """Turn what the cryptography refuses into one line about ``what`` (the file given)."""
    try:
        yield
    except UntrustedFile as exc:
        # I9: a file that does not chain to the organisation key may be an entrapment tool.
        raise SanadError(
            f"refused: {exc}", hint="do not act on this file; tell an admin how you received it"
        ) from exc
    except NotForThisKey as exc:
        raise SanadError(
            f"{what} was not sealed to this key",
            hint="open it with the key file it was sent for, or the organisation recovery key",
        ) from exc
    except UnsupportedVersion as exc:
        raise SanadError(str(exc), hint="update sanad, or ask for the file again") from exc
    except PartsDoNotJoin as exc:
        raise SanadError(
            f"refused: {exc}",
            hint="pass every part of one file (case-...-N.partKofM.sanad), as the bot sent them",
        ) from exc
    except WrongPassphrase:
        raise  # its own message, "wrong passphrase or damaged key file", is the right one
    except OpenFailure as exc:
        raise SanadError(f"{what} could not be opened: it is damaged") from exc


def _attachment_paths(out: Path, attachments: tuple[Attachment, ...]) -> list[Path]:
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
    paths = _attachment_paths(out, attachments)
    existing = [p for p in paths if p.exists()]
    if existing:  # refuse before writing anything, so a second open never half-overwrites
        raise SanadError(
            f"{existing[0]} already exists", hint="choose another --out folder or move it away"
        )
    out.mkdir(mode=_PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    for path, attachment in zip(paths, attachments, strict=True):
        # O_EXCL: never follow or replace something created since the check above.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(attachment.data)
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


@caseworker_app.command("open")
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
    each must be signed by the bot too.
    """
    given = [file.read_bytes() for file in files]
    with _refusals("this file"):
        opening = _opening_key(key, org, caseworker_only=False)
        data = _whole_file(given, opening)
        sealed = _trusted_file(data, opening)
        opened = open_sealed_file(
            data, _decryption_key(opening, passphrase_file), opening.organisation
        )
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
    out.mkdir(mode=_PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    typer.echo(f"Saved {path}: the parts joined into one file (for caseworker reply --from)")


def _manifest_key(sealed: SealedFile) -> tuple[str, int, bytes]:
    return sealed.case_reference, sealed.sequence, sealed.body_sealed


def _reply_text(text_file: Path | None) -> str:
    """The reply from ``--text-file``, or standard input (typed, ended with Ctrl-D, or piped)."""
    if text_file is not None:
        text = text_file.read_text(encoding="utf-8")
    else:
        if sys.stdin.isatty():
            typer.echo("Type your reply, then Ctrl-D on a line of its own:", err=True)
        text = sys.stdin.read()
    text = text.strip()
    if not text:
        raise SanadError("the reply is empty")
    return text


@caseworker_app.command("reply")
def caseworker_reply(
    case: Annotated[str, typer.Argument(help="The case reference, e.g. K7Q-4M2P.")],
    key: Annotated[
        Path,
        typer.Option("--key", help="Your caseworker key file.", dir_okay=False, exists=True),
    ],
    report_file: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="The sealed report file of this case you received "
            "[default: case-<CASE>-0.sanad in the current folder].",
            dir_okay=False,
        ),
    ] = None,
    text_file: Annotated[
        Path | None,
        typer.Option(
            "--text-file",
            help="Read the reply from this file instead of standard input.",
            dir_okay=False,
            exists=True,
        ),
    ] = None,
    number: Annotated[
        int,
        typer.Option(
            "--number",
            min=1,
            max=2**32,
            help="Which reply to this case this is (1 for the first; the bot says which number "
            "it expects if this one is taken).",
        ),
    ] = 1,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Reply file to write [default: reply-<CASE>-<N>.sanad].", dir_okay=False
        ),
    ] = None,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Write a signed, sealed reply file to upload to the bot (instead of /reply).

    The reply is sealed to the reporter's mailbox key carried in the report file, which is opened
    with your key first so that a file edited on the way cannot redirect your reply
    (docs/crypto.md, "Report envelope"), and signed with your signing key, which the bot checks
    against your certificate.
    """
    reference = case.strip().upper()
    sequence = number - 1  # people count replies from 1; the mailbox's sequence starts at 0
    source = report_file or Path(delivery_file_name(reference, 0))
    if not source.is_file():
        raise SanadError(f"{source} not found", hint="pass the report file of this case as --from")
    target = out or Path(f"reply-{reference.replace('-', '')}-{number}.sanad")
    if target.exists():
        raise SanadError(f"{target} already exists", hint="choose another --out or move it away")
    data = source.read_bytes()
    with _refusals("this report file"):
        opening = _opening_key(key, None, caseworker_only=True)
        # I9: the reply-to key is trusted only once the file chains to the organisation key.
        sealed = _trusted_file(data, opening)
        if sealed.case_reference != reference:
            raise SanadError(
                f"{source} belongs to case {inert(sealed.case_reference)}, not {reference}"
            )
        identity = _caseworker_identity(opening, passphrase_file)
        opened = open_sealed_file(data, identity.keys.encryption, opening.organisation)
    if opened.reply_to is None:
        raise SanadError("this report carries no mailbox: its reporter cannot receive replies")
    text = _reply_text(text_file)
    sealed_reply = seal_reply(
        text, report_id=opened.report_id, sequence=sequence, mailbox_public=opened.reply_to
    )
    statement = ReplyStatement(
        signer=ReplySigner.CASEWORKER,
        case_reference=opened.case_reference,
        report_id=opened.report_id,
        mailbox_key_id=opened.reply_to.key_id,
        sequence=sequence,
        sealed_reply=sealed_reply,
    )
    signed = write_reply_file(statement, identity.keys.signing)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(signed)
    typer.echo(f"Wrote {target}: send it to the bot as a file.")
