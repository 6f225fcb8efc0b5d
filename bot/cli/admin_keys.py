"""Key lifecycle commands (DESIGN.md §9): ``sanad admin revoke|rewrap|rotate-recovery|
rotate-pepper`` and ``sanad org rotate-signing|new-recovery``.

The ``admin`` commands act on the configured deployment's database with a private key the admin
brings in a key file (I5): the file's public header is checked against the configuration before
a passphrase is asked or Argon2id runs, so a wrong file costs one line, not a minute. The
``org`` commands run on an admin's offline machine and only write key files.

:func:`register` adds them to the ``admin`` and ``org`` groups; the work itself is in
:mod:`bot.services.key_lifecycle`, imported inside each command so that ``sanad --help`` does not
load the database layer. Text here is for admins and is English only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.config_cmd import DEFAULT_CONFIG_PATH, ConfigOption, load_settings
from bot.cli.deployment import (
    key_file_option,
    on_database,
    open_recovery_key,
    open_signing_key,
)
from bot.cli.keys import ORG_LABEL, RECOVERY_FILE, SIGNING_FILE
from bot.cli.passphrase import PassphraseFileOption, read_passphrase
from bot.errors import SanadError
from bot.services.limits import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE
from crypto import RotationReason, issue_signing_key_rotation, verify_signing_key_rotation
from crypto.certificates import today_utc
from crypto.keyfile import (
    KeyKind,
    WrongPassphrase,
    load_org_recovery_key,
    load_org_signing_key,
    read_key_file_header,
    save_org_recovery_key,
    save_org_signing_key,
)
from crypto.keys import ORG_SIGNING_PREFIX, Ed25519SigningKey, X25519SecretKey
from desk.cli.options import refuse_existing

if TYPE_CHECKING:
    from bot.config import Config
    from bot.services.caseworkers import Reassignment
    from bot.services.key_lifecycle import (
        RecoveryRotation,
        Reissue,
        Revocation,
        Rewrapping,
    )
    from storage.engine import Database

ROTATION_FILE = "org-signing-rotation.sanad"


def revoke(
    who: Annotated[str, typer.Argument(metavar="ID", help="The caseworker's id or label.")],
    org_key: Annotated[
        Path, key_file_option("--org-key", "The organisation signing key file (org-signing.key).")
    ],
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    passphrase_file: PassphraseFileOption = None,
    after_rollback: Annotated[
        bool,
        typer.Option(
            "--after-rollback",
            help="The database lost revocation lists (below the revocation mark): sign a new "
            "list over what is left. Revoke again everyone who was revoked.",
        ),
    ] = False,
) -> None:
    """Revoke a caseworker: signed revocation list, wraps deleted, deliveries stopped.

    Their copy of every report is destroyed (the recovery key's remains), nothing more is
    delivered to them, and their /reply and reply files are refused. Their older keys, and newer
    keys still waiting for approval, are revoked with them. Their open cases are listed: give
    them to someone with `sanad admin reassign --all-from ID --to OTHER`.
    """
    from bot.services import key_lifecycle as lifecycle

    settings = load_settings(config)
    org_public = settings.organisation.signing_public_key
    signing_key = open_signing_key(settings, org_key, passphrase_file)
    floor = _revocation_floor(settings)

    async def work(db: Database) -> Revocation:
        return await lifecycle.revoke(
            db,
            who=who,
            signing_key=signing_key,
            org_public=org_public,
            today=today_utc(),
            min_serial=floor,
            after_rollback=after_rollback,
        )

    result = on_database(settings, work)
    ids = ", ".join(str(i) for i in result.caseworker_ids)
    typer.echo(f"revoked caseworker(s) {ids}: revocation list {result.serial} signed")
    _raise_mark(settings, result.serial)
    typer.echo(
        f"{result.wraps_removed} wrap(s) deleted, {result.deliveries_stopped} delivery(ies) stopped"
    )
    if result.open_cases:
        typer.echo(f"{len(result.open_cases)} open case(s) to reassign:")
        for reference in result.open_cases:
            typer.echo(f"  {reference}")
        typer.echo(
            f"reassign them with `sanad admin reassign --all-from {result.caseworker_ids[0]} "
            "--to ID --recovery-key FILE`"
        )


def rewrap(
    who: Annotated[
        str, typer.Option("--caseworker", help="The id or label of the caseworker's NEW key.")
    ],
    recovery_key: Annotated[
        Path,
        key_file_option("--recovery-key", "The organisation recovery key file (org-recovery.key)."),
    ],
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Move a caseworker's open cases from their old key to their new, approved key.

    Run it after approving the key they enrolled to replace the old one. Afterwards the old key
    opens nothing still stored, and the moved cases are delivered again, sealed to the new key.
    """
    from bot.services import key_lifecycle as lifecycle

    settings = load_settings(config)
    organisation = settings.organisation
    secret = open_recovery_key(settings, recovery_key, passphrase_file)
    floor = _revocation_floor(settings)

    async def work(db: Database) -> Rewrapping:
        return await lifecycle.rewrap_rotated(
            db,
            who=who,
            recovery_key=secret,
            recovery_public=organisation.recovery_public_key,
            org_public=organisation.signing_public_key,
            today=today_utc(),
            now=datetime.now(UTC),
            min_serial=floor,
        )

    result = on_database(settings, work)
    retired = ", ".join(str(i) for i in result.retired_ids)
    typer.echo(
        f"caseworker {result.caseworker_id}: {result.cases} open case(s), {result.parts} part(s) "
        f"re-wrapped to the new key and queued for delivery"
    )
    typer.echo(f"{result.wraps_removed} wrap(s) of the old key(s) deleted; retired {retired}")


def rotate_recovery(
    old_key: Annotated[Path, key_file_option("--old-key", "The current recovery key file.")],
    new_key: Annotated[
        Path, key_file_option("--new-key", "The new recovery key file (`sanad org new-recovery`).")
    ],
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            max=MAX_BATCH_SIZE,
            help="Report parts per transaction; smaller holds the database for less time.",
        ),
    ] = DEFAULT_BATCH_SIZE,
    passphrase_file: PassphraseFileOption = None,
    new_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--new-passphrase-file",
            help="The new key file's passphrase file, if it differs from the old one's "
            "(--passphrase-file).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Re-wrap every report to a new recovery key, in batches; safe to stop and run again.

    Stop the bot first. Each batch adds the new key's wraps and removes the old key's for the
    same reports in one transaction, so every report stays readable by one of the two keys
    whenever the command is stopped; running it again finishes the job. Both key files are
    opened: the new one too, so that no report is handed to a key whose passphrase nobody
    knows. Ends with the line to put into the [organisation] table; the bot refuses to start
    until the configuration and the reports agree.
    """
    from bot.services import key_lifecycle as lifecycle

    settings = load_settings(config)
    configured = settings.organisation.recovery_public_key.raw
    old_header, new_header = read_key_file_header(old_key), read_key_file_header(new_key)
    for path, header in ((old_key, old_header), (new_key, new_header)):
        if header.kind is not KeyKind.ORG_RECOVERY:
            raise SanadError(
                f"{path} is {header.kind.description}, not a recovery key file",
                hint="pass recovery key files made by `sanad org init` or `sanad org new-recovery`",
            )
    if configured not in (old_header.public_keys, new_header.public_keys):
        raise SanadError(
            "neither key file is the recovery key in the configuration",
            hint="check organisation.recovery_public_key, --old-key and --new-key",
        )
    if old_header.public_keys == new_header.public_keys:
        raise SanadError("--old-key and --new-key are the same key")
    # Two key files, two passphrases: each asked for by name, and a wrong one named (the same
    # --passphrase-file or SANAD_PASSPHRASE serves both unless --new-passphrase-file is given).
    old_passphrase = read_passphrase(
        passphrase_file, creating=False, key_file=f"{old_key.name} (old)"
    )
    old_secret = _open_recovery_file(old_key, old_passphrase)
    new_passphrase = read_passphrase(
        new_passphrase_file or passphrase_file, creating=False, key_file=f"{new_key.name} (new)"
    )
    new_public = _open_recovery_file(new_key, new_passphrase).public_key
    moved = 0

    def progress(batch: RecoveryRotation) -> None:
        nonlocal moved
        moved += batch.rewrapped
        typer.echo(f"re-wrapped {moved} report part(s) so far")

    async def work(db: Database) -> RecoveryRotation:
        return await lifecycle.rotate_recovery(
            db,
            old_key=old_secret,
            new_public=new_public,
            today=today_utc(),
            batch_size=batch_size,
            on_batch=progress,
        )

    result = on_database(settings, work)
    typer.echo(
        f"done: {result.rewrapped} part(s) re-wrapped, {result.already_new} already on the new key"
    )
    if not result.complete:
        raise SanadError(
            f"{result.unopened} part(s) whose old wrap does not open and "
            f"{result.without_recovery_wrap} part(s) with no recovery wrap were left as they are",
            hint="the bot will not start with the new key until these are resolved",
        )
    typer.echo(
        "One step left: paste this line into the [organisation] table of the configuration "
        "(replacing recovery_public_key), then start the bot:"
    )
    typer.echo(f'recovery_public_key = "{new_public.to_text()}"')


def _open_recovery_file(path: Path, passphrase: str) -> X25519SecretKey:
    """The recovery key in ``path``; a wrong passphrase names the file, as two are opened."""
    try:
        return load_org_recovery_key(path, passphrase)[1]
    except WrongPassphrase:
        raise SanadError(
            f"wrong passphrase for {path}, or the file is damaged",
            hint="run the command again; each key file's passphrase is asked for by name",
        ) from None


def rotate_pepper(config: ConfigOption = DEFAULT_CONFIG_PATH) -> None:
    """Add a new receipt pepper; older ones stay accepted, and are replaced at each look-up.

    Run it on the server, then restart the bot: new mailboxes use the new pepper, and a mailbox
    made under an older one moves to the new one the next time its reporter checks it.
    """
    from bot.server_secrets import find_server_secrets
    from bot.services import key_lifecycle as lifecycle

    settings = load_settings(config)
    state_dir = settings.server.state_dir
    secrets = find_server_secrets(state_dir)
    if secrets is None:
        raise SanadError(
            f"no server secrets in {state_dir} yet", hint="start the bot once to create them"
        )
    version = lifecycle.add_pepper(
        state_dir, lifecycle.load_pepper_ring(state_dir, secrets.receipt_pepper)
    )
    typer.echo(f"receipt pepper version {version} created; restart the bot to use it")


def rotate_signing(
    old_key: Annotated[
        Path, key_file_option("--old-key", "The current organisation signing key file.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help=f"Folder for the new {SIGNING_FILE} and {ROTATION_FILE}.", file_okay=False
        ),
    ],
    passphrase_file: PassphraseFileOption = None,
    compromised: Annotated[
        bool,
        typer.Option(
            "--compromised",
            help="The old key may be in someone else's hands: carry no certificate over.",
        ),
    ] = False,
) -> None:
    """Make a new organisation signing key, and a statement by both keys that it replaces the old.

    Then, on the server: put the printed line into the [organisation] table and run
    `sanad admin approve --all --org-key NEW --rotation STATEMENT` to re-issue the certificates
    the old key signed (caseworkers receive nothing in between: stop the bot while you do it).

    With --compromised nothing the old key signed is carried over: the same command signs the
    revocations again under the new key and re-issues no certificate, so once the new key is
    pinned every caseworker is ineligible until approved again. Each caseworker sends /enroll
    again for a fresh confirmation code and reads it to you with the fingerprint.
    """
    header = read_key_file_header(old_key)
    if header.kind is not KeyKind.ORG_SIGNING:
        raise SanadError(f"{old_key} is {header.kind.description}, not a signing key file")
    signing_path, statement_path = out / SIGNING_FILE, out / ROTATION_FILE
    refuse_existing([signing_path, statement_path], force=False)
    old: Ed25519SigningKey = load_org_signing_key(
        old_key, read_passphrase(passphrase_file, creating=False)
    )[1]
    typer.echo("Choose the passphrase of the new signing key file.", err=True)
    passphrase = read_passphrase(passphrase_file, creating=True)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    new = Ed25519SigningKey.generate()
    save_org_signing_key(signing_path, new, ORG_LABEL, passphrase)
    reason = RotationReason.COMPROMISED if compromised else RotationReason.SCHEDULED
    statement_path.write_bytes(issue_signing_key_rotation(old, new, reason=reason))
    typer.echo(f"Wrote {signing_path} (mode 0600) and {statement_path}. Keep the key offline.")
    typer.echo("Paste this line into the [organisation] table of config.toml:")
    typer.echo(f'signing_public_key = "{new.public_key.to_text(prefix=ORG_SIGNING_PREFIX)}"')
    if compromised:
        typer.echo(
            "Then run `sanad admin approve --all --org-key NEW --rotation STATEMENT` on the "
            "server: it signs the revocations again and re-issues no certificate."
        )
        typer.echo(
            "From then on every caseworker is ineligible until re-approved: each sends /enroll "
            "again and reads you the fingerprint and the new confirmation code, and you run "
            "`sanad admin approve ID --org-key NEW --confirm CODE`."
        )


def new_recovery(
    out: Annotated[
        Path, typer.Option("--out", help=f"Folder for {RECOVERY_FILE}.", file_okay=False)
    ],
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Make a new organisation recovery key file, for `sanad admin rotate-recovery --new-key`."""
    path = out / RECOVERY_FILE
    refuse_existing([path], force=False)
    passphrase = read_passphrase(passphrase_file, creating=True)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = X25519SecretKey.generate()
    save_org_recovery_key(path, key, ORG_LABEL, passphrase)
    typer.echo(f"Wrote {path} (mode 0600). Keep it offline.")
    typer.echo(f'recovery_public_key = "{key.public_key.to_text()}"')


def _revocation_floor(settings: Config) -> int:
    from bot.revocation_mark import revocation_floor

    return revocation_floor(settings.server.state_dir, settings.organisation.min_revocation_serial)


def _raise_mark(settings: Config, serial: int) -> None:
    """Raise the revocation high-water mark after a new list committed (I9), and say so."""
    from bot.revocation_mark import mark_path, raise_mark

    if raise_mark(settings.server.state_dir, serial):
        typer.echo(f"revocation mark raised to {serial} in {mark_path(settings.server.state_dir)}")
    else:
        typer.echo(
            f"no state directory here: the bot raises its revocation mark to {serial} when it "
            f"next starts; to pin it, set organisation.min_revocation_serial = {serial}"
        )


_REAPPROVE_HINT = (
    "every caseworker sends /enroll again and reads you the fingerprint and the new "
    "confirmation code; approve each with `sanad admin approve ID --org-key FILE --confirm CODE`"
)


def approve_all(
    settings: Config,
    org_key: Path,
    passphrase_file: Path | None,
    *,
    days: int,
    rotation: Path | None,
) -> None:
    """``sanad admin approve --all``: re-issue every certificate in force with the key in
    ``org_key`` (checked against the pinned key before its passphrase is asked).

    With ``rotation`` (the statement `sanad org rotate-signing` wrote), certificates and the
    revocation list signed by the statement's old key are re-issued too; the statement must name
    the pinned key as the new one. A statement made after a compromise re-issues no
    certificate: the revocations are signed again under the new key, and the command fails
    with the line that says every caseworker must be approved again (I9).
    """
    from bot.services import key_lifecycle as lifecycle

    org_public = settings.organisation.signing_public_key
    previous = None
    compromised = False
    if rotation is not None:
        statement = verify_signing_key_rotation(rotation.read_bytes())
        if statement.new != org_public:
            raise SanadError(
                f"{rotation} does not name the configured signing key as the new one",
                hint="put the line `sanad org rotate-signing` printed into [organisation] first",
            )
        previous = statement.old
        compromised = statement.reason is RotationReason.COMPROMISED
    signing_key = open_signing_key(settings, org_key, passphrase_file)
    floor = _revocation_floor(settings)
    if compromised and previous is not None:
        old_key = previous

        async def carry(db: Database) -> int:
            return await lifecycle.carry_revocations_after_compromise(
                db,
                signing_key=signing_key,
                org_public=org_public,
                previous=old_key,
                today=today_utc(),
                min_serial=floor,
            )

        serial = on_database(settings, carry)
        typer.echo(f"revocation list signed again with the new key as serial {serial}")
        _raise_mark(settings, serial)
        raise SanadError(
            f"{rotation} rotates away from a compromised key: no certificate was re-issued, "
            "and no caseworker receives anything until approved again",
            hint=_REAPPROVE_HINT,
        )

    async def work(db: Database) -> Reissue:
        return await lifecycle.reissue_certificates(
            db,
            signing_key=signing_key,
            org_public=org_public,
            previous=previous,
            today=today_utc(),
            days=days,
            min_serial=floor,
        )

    result = on_database(settings, work)
    ids = ", ".join(str(i) for i in result.caseworker_ids) or "none"
    typer.echo(f"re-issued {len(result.caseworker_ids)} certificate(s): caseworker(s) {ids}")
    if result.skipped:
        typer.echo(f"{result.skipped} verified row(s) had no certificate in force: not signed")
    if result.revocation_serial is not None:
        typer.echo(f"revocation list re-issued as serial {result.revocation_serial}")
        _raise_mark(settings, result.revocation_serial)


def reassign_all(
    settings: Config, *, from_who: str, to: str, recovery_key: X25519SecretKey
) -> None:
    """``sanad admin reassign --all-from ID --to ID``: every open case of one caseworker."""
    from bot.services import key_lifecycle as lifecycle

    organisation = settings.organisation
    floor = _revocation_floor(settings)

    async def work(db: Database) -> list[Reassignment]:
        return await lifecycle.reassign_all(
            db,
            from_who=from_who,
            to=to,
            recovery_key=recovery_key,
            recovery_public=organisation.recovery_public_key,
            org_public=organisation.signing_public_key,
            today=today_utc(),
            now=datetime.now(UTC),
            min_serial=floor,
        )

    results = on_database(settings, work)
    for result in results:
        typer.echo(
            f"case {result.case_reference} assigned to caseworker {result.caseworker_id}: "
            f"{result.bodies} part(s) re-wrapped and queued for delivery"
        )
    typer.echo(f"{len(results)} case(s) reassigned")


def register(admin_app: typer.Typer, org_app: typer.Typer) -> None:
    """Add the key lifecycle commands to the ``admin`` and ``org`` groups."""
    admin_app.command("revoke")(revoke)
    admin_app.command("rewrap")(rewrap)
    admin_app.command("rotate-recovery")(rotate_recovery)
    admin_app.command("rotate-pepper")(rotate_pepper)
    org_app.command("rotate-signing")(rotate_signing)
    org_app.command("new-recovery")(new_recovery)
