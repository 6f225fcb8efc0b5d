"""``sanad org init``: the organisation's key files (DESIGN.md §9).

It runs on an admin's offline machine, never on the server (I5): the private keys it creates live
only in passphrase-protected key files (docs/crypto.md, "Key files"), always with the real
Argon2id setting SENSITIVE. The caseworker's own key commands (``sanad caseworker ...``) are in
:mod:`desk.cli`; both refuse to replace a key file unasked the same way (:mod:`desk.cli.options`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crypto.fingerprint import organisation_fingerprint, organisation_signing_fingerprint
from crypto.keyfile import KeyFileExists, save_org_recovery_key, save_org_signing_key
from crypto.keys import ORG_SIGNING_PREFIX, OrganisationKeys
from desk.cli.options import PRIVATE_DIR_MODE, ForceOption, already_exists, refuse_existing
from desk.passphrase import PassphraseFileOption, read_passphrase

org_app = typer.Typer(
    help="Organisation keys (run on an admin's offline machine).", no_args_is_help=True
)

SIGNING_FILE = "org-signing.key"
RECOVERY_FILE = "org-recovery.key"
ORG_LABEL = "organisation"


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
    out.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    keys = OrganisationKeys.generate()
    try:
        save_org_signing_key(signing_path, keys.signing, ORG_LABEL, passphrase, force=force)
        save_org_recovery_key(recovery_path, keys.recovery, ORG_LABEL, passphrase, force=force)
    except KeyFileExists as exc:
        raise already_exists(exc) from exc
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
