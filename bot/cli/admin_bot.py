"""``sanad admin certify-bot``: the organisation vouches for the bot's key (DESIGN.md §4, I9).

Run on the server, with the admin's organisation signing key file brought for the occasion
(I5: it leaves with the admin). The bot key itself never leaves the server's state directory;
the certificate is written beside it, and ``sanad run`` refuses to start without one that is
valid today. Certificates are short (90 days by default) because a caseworker's computer has no
revocation list: expiry is what ends a stolen bot key's reach there.

Text here is for admins and is English only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.config_cmd import DEFAULT_CONFIG_PATH, ConfigOption, load_settings
from bot.cli.deployment import key_file_option, on_database, open_signing_key
from bot.cli.passphrase import PassphraseFileOption
from crypto.certificates import today_utc

if TYPE_CHECKING:
    from crypto import BotCertificate
    from storage.engine import Database

AUDIT_EVENT = "bot.certified"


def register(admin_app: typer.Typer) -> None:
    """Add ``certify-bot`` to the ``admin`` application."""
    admin_app.command("certify-bot")(certify_bot_command)


def certify_bot_command(
    org_key: Annotated[
        Path, key_file_option("--org-key", "The organisation signing key file (org-signing.key).")
    ],
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=1,
            max=366,
            # bot.bot_identity.DEFAULT_VALIDITY_DAYS: that module is imported inside the command,
            # as it loads the configuration layer, which `sanad --help` must not.
            help="How long the certificate is valid, in days [default: 90].",
        ),
    ] = None,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Sign the bot key's certificate with the organisation signing key.

    Without a valid certificate `sanad run` does not start, and caseworkers refuse every file
    the bot sends. Renew before it expires: `sanad admin status` says when.
    """
    from bot.bot_identity import DEFAULT_VALIDITY_DAYS, certify_bot
    from storage import audit
    from storage.migrate import upgrade_database

    validity = days or DEFAULT_VALIDITY_DAYS
    settings = load_settings(config)
    # Checked against the pinned key before its passphrase is asked (bot.cli.deployment).
    signing_key = open_signing_key(settings, org_key, passphrase_file)
    today = today_utc()

    async def work(db: Database) -> BotCertificate:
        # A new deployment certifies its bot before the first `sanad run`, which is what would
        # otherwise apply the migrations: the audit entry needs the schema.
        await upgrade_database(db)
        async with db.sessionmaker() as session, session.begin():
            # The entry is flushed first, so a database that cannot take it (not upgraded yet)
            # stops the command before a certificate is written.
            await audit.append(
                session, AUDIT_EVENT, signing_key.public_key.key_id, {"days": validity}, today
            )
            return certify_bot(settings.server.state_dir, signing_key, days=validity, today=today)

    certificate = on_database(settings, work)
    typer.echo(f"certified the bot key {certificate.key.key_id.hex()[:16]}")
    typer.echo(f"serial {certificate.serial}, expires on {certificate.expires.isoformat()}")
