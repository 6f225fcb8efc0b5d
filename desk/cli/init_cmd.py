"""``sanad caseworker init``: a caseworker's key file, pinning their organisation's key (I9)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crypto.enrolment import encode_enrolment_code, validate_label
from crypto.fingerprint import caseworker_fingerprint, organisation_signing_fingerprint
from crypto.keyfile import KeyFileExists, save_caseworker_key
from crypto.keys import CaseworkerKeys
from desk.cli.options import PRIVATE_DIR_MODE, ForceOption, already_exists, refuse_existing
from desk.opening import organisation_key
from desk.passphrase import PassphraseFileOption, read_passphrase

OrgOption = Annotated[
    str,
    typer.Option(
        "--org",
        metavar="KEY",
        help="The organisation signing key (sanad-sign1:...), as the admin gave it to you.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add ``init`` to ``sanad caseworker``."""
    app.command("init")(caseworker_init)


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
    organisation = organisation_key(org)
    refuse_existing([key], force)
    passphrase = read_passphrase(passphrase_file, creating=True)
    if not key.parent.exists():
        # The folder of a private key is private too: 0700 when this command makes it.
        key.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True)
    keys = CaseworkerKeys.generate()
    try:
        save_caseworker_key(key, keys, label, passphrase, organisation=organisation, force=force)
    except KeyFileExists as exc:
        raise already_exists(exc) from exc
    typer.echo(f"Wrote {key} (mode 0600).")
    typer.echo(f"Enrolment code: {encode_enrolment_code(label, keys.public)}")
    typer.echo(f"Fingerprint: {caseworker_fingerprint(keys.public)}")
    typer.echo(f"Organisation fingerprint: {organisation_signing_fingerprint(organisation)}")
