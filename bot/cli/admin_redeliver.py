"""``sanad admin redeliver [CASE] [--all] [--reason CLASS]``: send failed deliveries again.

Once the cause of failed deliveries is gone (the caseworker unblocked the bot, a proxy's body
limit was raised, the network is back), this puts them back in the outbox with fresh attempts
and the next forward run sends them (:mod:`bot.services.redelivery`). It needs no key and prints
counts only; run it on the server, where the audit entry is signed.

Text here is for admins and is English only; every message sits in this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.config_cmd import DEFAULT_CONFIG_PATH, ConfigOption, load_settings
from bot.cli.deployment import on_database
from bot.cli.layout import echo_json
from bot.errors import SanadError
from crypto.certificates import today_utc

if TYPE_CHECKING:
    from bot.services.redelivery import Redelivery
    from storage.engine import Database


def register(admin_app: typer.Typer) -> None:
    """Add ``redeliver`` to the ``sanad admin`` group."""
    admin_app.command("redeliver")(redeliver)


def _answer(done: Redelivery) -> str:
    line = f"requeued {done.requeued} failed delivery(ies) for the next forward run"
    if done.not_eligible:
        line += (
            f"; left failed: {done.not_eligible} whose caseworker may not receive them "
            "(`sanad admin caseworkers` says why; move those cases with `sanad admin reassign`)"
        )
    if done.already_delivered:
        line += f"; left failed: {done.already_delivered} already delivered or on their way"
    return line


def redeliver(
    case: Annotated[
        str | None, typer.Argument(metavar="[CASE]", help="Only this case's deliveries.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    every: Annotated[bool, typer.Option("--all", help="Every failed delivery.")] = False,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="CLASS",
            help="Only those failed with this error class, as `sanad admin status` names it "
            "(e.g. Forbidden, UploadTooLarge).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The counts as one JSON document for scripts.")
    ] = False,
) -> None:
    """Queue failed deliveries again, once their cause is gone; the next forward run sends them.

    Each goes back with fresh attempts, but only to a caseworker the bot still sends to
    (verified, certificate valid, not revoked): the others stay failed, and their cases need
    `sanad admin reassign`. A file the caseworker already received, or is about to, is never
    queued again. A delivery failed on network errors may have reached the caseworker before
    the answer was lost: it then arrives once more, with the same name, and their desk says it
    repeats. Needs no key; run it on the server, where the audit entry is signed.
    """
    if every == (case is not None):
        raise SanadError("name one case, or pass --all", hint="`sanad admin redeliver --help`")
    from bot.revocation_mark import revocation_floor
    from bot.services.redelivery import redeliver_failed

    settings = load_settings(config)
    organisation = settings.organisation
    floor = revocation_floor(settings.server.state_dir, organisation.min_revocation_serial)

    async def work(db: Database) -> Redelivery:
        return await redeliver_failed(
            db,
            org_public=organisation.signing_public_key,
            today=today_utc(),
            now=datetime.now(UTC),
            min_serial=floor,
            error_class=reason,
            case_reference=case,
        )

    done = on_database(settings, work)
    if as_json:
        echo_json(
            {
                "requeued": done.requeued,
                "not_eligible": done.not_eligible,
                "already_delivered": done.already_delivered,
            }
        )
        return
    typer.echo(_answer(done))
