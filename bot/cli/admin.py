"""Admin commands: ``sanad admin caseworkers|approve|discard-enrolment|languages|reassign``
(DESIGN.md §9).

They read the deployment through ``--config`` and act on its database; the organisation key
file an admin brings is checked against the configuration before its passphrase is asked
(:mod:`bot.cli.deployment`). The services and the database layer are imported inside each
command, so that ``sanad --help`` does not load them.

Text here is for admins and is English only; every message sits in this module.
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
from bot.cli.layout import echo_json, stacked
from bot.cli.passphrase import PassphraseFileOption
from bot.errors import SanadError
from bot.services.limits import DEFAULT_CERTIFICATE_DAYS
from crypto.certificates import today_utc

if TYPE_CHECKING:
    from bot.services.caseworkers import (
        Approval,
        Assessment,
        DiscardedEnrolments,
        Reassignment,
    )
    from storage.engine import Database

admin_app = typer.Typer(
    help="Administration: verify caseworkers and assign cases (server or an admin's machine).",
    no_args_is_help=True,
)

_PLAIN_COLUMNS = (
    "id",
    "label",
    "status",
    "fingerprint",
    "replaces",
    "seals",
    "reason",
    "expires",
    "languages",
    "claims",
)


@admin_app.command("caseworkers")
def caseworkers(
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    plain: Annotated[
        bool,
        typer.Option("--plain", help="Tab-separated lines for scripts, with a header line."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON list for scripts, a record per caseworker.")
    ] = False,
) -> None:
    """List caseworkers with status and fingerprint, and whether the bot will seal to them.

    Each caseworker is a block of "name  value" lines that fits the terminal: label, status
    and fingerprint are never cut short, only wrapped.

    The fingerprint is computed from the stored keys; compare it with the one the caseworker's
    `sanad caseworker init` printed before approving. When the bot will not seal to someone the
    reason column says why (no certificate, signed by another key, expired, revoked, ...). The
    languages column is what reports are routed to them in ("any" when none is set). The claims
    column counts the chats that sent /enroll with the key since it was last approved: "2
    chats!" means the enrolment code was also sent from a chat that is not the caseworker's;
    approving with the confirmation code the caseworker reads you binds only their chat ("?"
    until the bot key is certified, as the claims cannot be checked).
    """
    from bot.bot_identity import BotNotCertified, load_bot_identity
    from bot.revocation_mark import revocation_floor
    from bot.services.caseworkers import assess_caseworkers

    settings = load_settings(config)
    org_public = settings.organisation.signing_public_key
    state_dir = settings.server.state_dir
    try:
        bot_public = load_bot_identity(state_dir, org_public).public_key
    except BotNotCertified:
        bot_public = None  # claims cannot be verified yet: the column shows "?"
    floor = revocation_floor(state_dir, settings.organisation.min_revocation_serial)

    async def work(db: Database) -> list[Assessment]:
        async with db.sessionmaker() as session, session.begin():
            return await assess_caseworkers(
                session, org_public, today_utc(), min_serial=floor, bot_public=bot_public
            )

    assessments = on_database(settings, work)
    if as_json:
        echo_json([_json_record(a) for a in assessments])
        return
    if plain:
        for line in [_PLAIN_COLUMNS, *(_plain_row(a) for a in assessments)]:
            typer.echo("\t".join(line))
        return
    if not assessments:
        typer.echo("no caseworkers yet: they enrol with /enroll in Telegram")
        return
    blocks = [stacked(f"caseworker {a.caseworker_id}", _fields(a)) for a in assessments]
    typer.echo("\n\n".join("\n".join(block) for block in blocks))


def _claims(assessment: Assessment) -> str:
    if assessment.claiming_chats is None:
        return "?"
    chats = assessment.claiming_chats
    if chats == 0:
        return "-"
    return "1 chat" if chats == 1 else f"{chats} chats!"


def _plain_row(assessment: Assessment) -> tuple[str, ...]:
    from bot.services.caseworkers import format_languages

    return (
        str(assessment.caseworker_id),
        assessment.label,
        assessment.status.value,
        assessment.fingerprint or "-",
        str(assessment.replaces_id) if assessment.replaces_id is not None else "-",
        "yes" if assessment.eligible else "no",
        assessment.reason.value if assessment.reason else "-",
        assessment.expires.isoformat() if assessment.expires else "-",
        format_languages(assessment.languages),
        "?" if assessment.claiming_chats is None else str(assessment.claiming_chats),
    )


def _fields(assessment: Assessment) -> list[tuple[str, str]]:
    from bot.services.caseworkers import format_languages

    label = assessment.label
    if assessment.replaces_id is not None:
        label += f" (replaces {assessment.replaces_id})"
    if assessment.eligible and assessment.expires is not None:
        seals = f"yes, until {assessment.expires.isoformat()}"
    else:
        seals = f"no: {assessment.reason.value}" if assessment.reason else "no"
    return [
        ("label", label),
        ("status", assessment.status.value),
        ("fingerprint", assessment.fingerprint or "-"),
        ("seals", seals),
        ("claims", _claims(assessment)),
        ("languages", format_languages(assessment.languages)),
    ]


def _json_record(assessment: Assessment) -> dict[str, object]:
    return {
        "id": assessment.caseworker_id,
        "label": assessment.label,
        "status": assessment.status.value,
        "fingerprint": assessment.fingerprint,
        "replaces": assessment.replaces_id,
        "seals": assessment.eligible,
        "reason": assessment.reason.value if assessment.reason else None,
        "expires": assessment.expires.isoformat() if assessment.expires else None,
        "languages": sorted(str(language) for language in assessment.languages),
        "claiming_chats": assessment.claiming_chats,
    }


@admin_app.command("approve")
def approve(
    org_key: Annotated[
        Path, key_file_option("--org-key", "The organisation signing key file (org-signing.key).")
    ],
    who: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="The caseworker's id or label.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    days: Annotated[
        int,
        typer.Option("--days", min=1, max=3650, help="How long the certificate is valid."),
    ] = DEFAULT_CERTIFICATE_DAYS,
    passphrase_file: PassphraseFileOption = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all", help="Re-issue every certificate in force (after a signing key rotation)."
        ),
    ] = False,
    rotation: Annotated[
        Path | None,
        typer.Option(
            "--rotation",
            help="With --all: the statement from `sanad org rotate-signing`.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(
            "--languages",
            metavar="CODES",
            help="Report languages routed to them, e.g. ar,fr (ar, fr, en; default: unchanged).",
        ),
    ] = None,
    confirm: Annotated[
        str | None,
        typer.Option(
            "--confirm",
            metavar="CODE",
            help="The 8-digit confirmation code the bot sent the caseworker after /enroll.",
        ),
    ] = None,
) -> None:
    """Sign a caseworker's certificate with the organisation signing key, bound to their chat.

    Meet the caseworker (by voice or in person) first: they read you the fingerprint and the
    confirmation code the bot answered their /enroll with. Compare the fingerprint with the
    one `sanad admin caseworkers` shows and pass the code with --confirm: the certificate then
    names the chat that received that code, and no other. Approving is what makes the bot seal
    reports to their key. Run it where the bot's state directory is (the code is checked
    against the bot key).
    """
    if every == (who is not None):
        raise SanadError("name one caseworker, or pass --all", hint="`sanad admin approve --help`")
    if every and languages is not None:
        raise SanadError(
            "--languages names one caseworker's languages; it cannot go with --all",
            hint="set them afterwards with `sanad admin languages ID CODES`",
        )
    if every and confirm is not None:
        raise SanadError("--confirm names one caseworker's code; it cannot go with --all")
    if not every and confirm is None:
        raise SanadError(
            "approving a caseworker needs the confirmation code they received after /enroll",
            hint="ask them to read it to you with the fingerprint, then pass --confirm CODE",
        )
    from bot.bot_identity import load_bot_identity
    from bot.services.caseworkers import approve as approve_caseworker
    from bot.services.caseworkers import format_languages, parse_languages
    from crypto import parse_confirmation_code

    # Checked before the key file's passphrase is asked: a typo should cost nothing.
    reads = None if languages is None else parse_languages(languages)
    settings = load_settings(config)
    org_public = settings.organisation.signing_public_key
    if who is None:  # --all; imported here, as it lives with the key lifecycle commands
        from bot.cli.admin_keys import approve_all

        approve_all(settings, org_key, passphrase_file, days=days, rotation=rotation)
        return
    code = parse_confirmation_code(confirm or "")  # present: checked above
    bot_public = load_bot_identity(settings.server.state_dir, org_public).public_key
    signing_key = open_signing_key(settings, org_key, passphrase_file)

    async def work(db: Database) -> Approval:
        return await approve_caseworker(
            db,
            who=who,
            confirmation=code,
            signing_key=signing_key,
            org_public=org_public,
            bot_public=bot_public,
            today=today_utc(),
            days=days,
            languages=reads,
        )

    approval = on_database(settings, work)
    typer.echo(f"approved caseworker {approval.caseworker_id} ({approval.label})")
    typer.echo(f"Fingerprint: {approval.fingerprint}")
    typer.echo(f"certificate valid until {approval.expires.isoformat()}")
    typer.echo(f"languages: {format_languages(approval.languages)}")
    if approval.other_chats:
        typer.echo(
            f"{approval.other_chats} other chat(s) also sent this key with /enroll: they were "
            "not bound and receive nothing"
        )
    if approval.rotation_of is not None:
        typer.echo(
            f"this key replaces caseworker {approval.rotation_of}'s; move their open cases with "
            f"`sanad admin rewrap --caseworker {approval.caseworker_id}`"
        )


@admin_app.command("discard-enrolment")
def discard_enrolment(
    who: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="The pending caseworker's id or label.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    every: Annotated[
        bool, typer.Option("--all", help="Every enrolment waiting for approval (after a flood).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="The counts as one JSON document for scripts.")
    ] = False,
) -> None:
    """Throw away enrolments waiting for approval: the pending row and every /enroll claim.

    What frees the places a flood of /enroll from fake accounts took, without waiting two weeks
    for them to expire. Only rows /enroll made are touched: a verified or revoked caseworker, and
    a chat bound by a certificate, never are. A real caseworker whose enrolment went with the
    rest sends /enroll again. Needs no key; run it on the server, where the audit entry is
    signed.
    """
    if every == (who is not None):
        raise SanadError(
            "name one caseworker, or pass --all", hint="`sanad admin discard-enrolment --help`"
        )
    from bot.services.caseworkers import (
        MAX_PENDING_ENROLMENTS,
        discard_all_enrolments,
        discard_enrolment,
    )

    settings = load_settings(config)

    async def work(db: Database) -> DiscardedEnrolments:
        if who is None:
            return await discard_all_enrolments(db, today=today_utc())
        return await discard_enrolment(db, who=who, today=today_utc())

    done = on_database(settings, work)
    if as_json:
        echo_json(
            {
                "pending_caseworkers": done.caseworkers,
                "enrolment_claims": done.claims,
                "enrolments": {"waiting": done.waiting, "limit": MAX_PENDING_ENROLMENTS},
            }
        )
        return
    typer.echo(
        f"discarded {done.caseworkers} pending caseworker(s) and {done.claims} enrolment "
        f"claim(s); enrolments waiting for approval: {done.waiting} of {MAX_PENDING_ENROLMENTS}"
    )


@admin_app.command("languages")
def languages(
    who: Annotated[str, typer.Argument(metavar="ID", help="The caseworker's id or label.")],
    codes: Annotated[
        str,
        typer.Argument(metavar="CODES", help="Comma-separated: ar, fr, en; or any."),
    ],
    config: ConfigOption = DEFAULT_CONFIG_PATH,
) -> None:
    """Set which report languages are routed to a caseworker ("any": every language).

    New reports go to an eligible caseworker who reads their language, the least loaded first;
    when nobody does, to the least loaded of all. Needs no key: this only chooses among
    caseworkers the bot already seals to.
    """
    from bot.services.caseworkers import format_languages, parse_languages, set_languages

    reads = parse_languages(codes)
    settings = load_settings(config)

    async def work(db: Database) -> tuple[int, str]:
        return await set_languages(db, who=who, languages=reads, today=today_utc())

    caseworker_id, label = on_database(settings, work)
    typer.echo(f"caseworker {caseworker_id} ({label}) languages: {format_languages(reads)}")


@admin_app.command("reassign")
def reassign(
    to: Annotated[str, typer.Option("--to", help="The new caseworker's id or label.")],
    recovery_key: Annotated[
        Path,
        key_file_option("--recovery-key", "The organisation recovery key file (org-recovery.key)."),
    ],
    case: Annotated[
        str | None, typer.Argument(metavar="[CASE]", help="The case reference.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    passphrase_file: PassphraseFileOption = None,
    all_from: Annotated[
        str | None,
        typer.Option("--all-from", metavar="ID", help="Every open case of this caseworker."),
    ] = None,
) -> None:
    """Re-wrap a case for another caseworker and queue its delivery to them.

    The previous caseworker's wraps of the case are deleted, so their key no longer opens it.
    Refused, with the reason, when the bot would not seal to the new caseworker.
    """
    if (case is None) == (all_from is None):
        raise SanadError(
            "name one case, or pass --all-from ID", hint="`sanad admin reassign --help`"
        )
    from bot.revocation_mark import revocation_floor
    from bot.services.caseworkers import reassign as reassign_case

    settings = load_settings(config)
    organisation = settings.organisation
    secret = open_recovery_key(settings, recovery_key, passphrase_file)
    if case is None:  # --all-from; imported here, as it lives with the key lifecycle commands
        from bot.cli.admin_keys import reassign_all

        reassign_all(settings, from_who=str(all_from), to=to, recovery_key=secret)
        return
    floor = revocation_floor(settings.server.state_dir, organisation.min_revocation_serial)

    async def work(db: Database) -> Reassignment:
        return await reassign_case(
            db,
            case_reference=case,
            to=to,
            recovery_key=secret,
            recovery_public=organisation.recovery_public_key,
            org_public=organisation.signing_public_key,
            today=today_utc(),
            now=datetime.now(UTC),
            min_serial=floor,
        )

    result = on_database(settings, work)
    typer.echo(
        f"case {result.case_reference} assigned to caseworker {result.caseworker_id}: "
        f"{result.bodies} part(s) re-wrapped and queued for delivery, "
        f"{result.wraps_removed} earlier wrap(s) removed"
    )
