"""``sanad caseworker reply``: a signed, sealed reply file to upload to the bot (not /reply)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from crypto.keyfile import write_private_file
from desk.cli.case_file import (
    CaseArgument,
    CaseworkerKeyOption,
    ReportFileOption,
    case_source,
    open_case,
)
from desk.errors import DeskError
from desk.passphrase import PassphraseFileOption
from desk.replies import mailbox_key, reply_file_name, signed_reply_file


def register(app: typer.Typer) -> None:
    """Add ``reply`` to ``sanad caseworker``."""
    app.command("reply")(caseworker_reply)


def _reply_text(text_file: Path | None) -> str:
    """The reply from ``--text-file``, or standard input (typed, ended with Ctrl-D, or piped)."""
    if text_file is not None:
        return text_file.read_text(encoding="utf-8")
    if sys.stdin.isatty():
        typer.echo("Type your reply, then Ctrl-D on a line of its own:", err=True)
    return sys.stdin.read()


def caseworker_reply(
    case: CaseArgument,
    key: CaseworkerKeyOption,
    report_file: ReportFileOption = None,
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
    source = case_source(reference, report_file)
    target = out or Path(reply_file_name(reference, number))
    if target.exists():
        raise DeskError(f"{target} already exists", hint="choose another --out or move it away")
    # I9: the reply-to key is trusted only once the file chains to the organisation key.
    found = open_case(reference, source, key, passphrase_file)
    identity, opened = found.identity, found.opened
    mailbox_key(opened)  # refused before the reply is typed, not after
    signed = signed_reply_file(opened, identity.keys, _reply_text(text_file), number)
    try:
        write_private_file(target, signed)
    except FileExistsError as exc:
        raise DeskError(f"{target} already exists", hint="choose another --out") from exc
    typer.echo(f"Wrote {target}: send it to the bot as a file.")
