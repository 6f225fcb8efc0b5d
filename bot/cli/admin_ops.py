"""Operating commands: ``sanad admin status`` and ``sanad admin audit [--verify]`` (DESIGN.md §9).

Both run on the server with ``--config`` and only read the database. They print counts, days,
event names and short key ids: never content, case references, labels or Telegram ids, so their
output can be pasted into a ticket or a chat with a colleague. What ``status`` counts is gathered
by :func:`bot.services.status.gather_status`, imported when the command runs.

Text here is for admins and is English only; every message sits in this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.config_cmd import DEFAULT_CONFIG_PATH, ConfigOption, load_settings
from bot.cli.deployment import on_database
from bot.cli.layout import echo_json, echo_wrapped, terminal_width, wrapped
from bot.errors import SanadError

if TYPE_CHECKING:
    from bot.config import Config
    from bot.services.status import BotCertificateState, Status
    from storage import audit
    from storage.engine import Database
    from storage.models import AuditEntry

# Enough of a 16-byte key id to tell keys apart in a list, as `sanad admin caseworkers` does
# with fingerprints; the full id is in the database.
_SHORT_KEY_ID_BYTES = 8


class AuditChainBroken(SanadError):
    """The audit log does not verify: an entry was changed, removed, moved or not signed."""


# -- status --------------------------------------------------------------------------------------


def _listing(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def _by_class(counts: Mapping[str, int]) -> str:
    return f" ({_listing(dict(sorted(counts.items())))})" if counts else ""


def _in_days(days: int | None) -> str:
    if days is None:
        return "nothing stored"
    if days <= 0:
        return "due now (the next purge removes it)"
    return f"in {days} day{'s' if days != 1 else ''}"


_CERTIFY_BOT = "`sanad admin certify-bot --org-key FILE`"


def _bot_certificate_lines(state: BotCertificateState, today: dt.date) -> list[str]:
    if state.expires is not None:
        lines = [f"bot certificate: valid until {state.expires.isoformat()}"]
        if state.renewal_due:
            days = (state.expires - today).days
            lines.append(
                f"warning: the bot certificate expires in {days} day{'s' if days != 1 else ''}"
                f"  <- renew it with {_CERTIFY_BOT}"
            )
        return lines
    if state.problem is None:
        return [
            f"bot certificate: none, so the bot will not start  <- make one with {_CERTIFY_BOT}"
        ]
    hint = f"  <- {state.problem.hint}" if state.problem.hint else ""
    return [f"bot certificate: {state.problem}, so the bot will not start{hint}"]


def _leadership_lines(status: Status) -> list[str]:
    """PostgreSQL: the instances, the leader, since when and the epoch (nothing on SQLite)."""
    state = status.leadership
    if state is None:
        return []
    since = state.since.strftime("%Y-%m-%d %H:%M UTC") if state.since else "never"
    leader = next((i.name for i in status.instances if i.leading), None)
    standing_by = [i.name for i in status.instances if not i.leading]
    return [
        f"leader: {leader or 'none running'}, epoch {state.epoch}, "
        f"since {since} (last elected: {state.leader or 'none'})",
        f"standby instances: {', '.join(standing_by) or 'none'}",
    ]


def _status_lines(status: Status, config: Config, now: dt.datetime) -> list[str]:
    from bot.jobs.erase import ERASE_INTERVAL_SECONDS
    from bot.jobs.purge import PURGE_INTERVAL_SECONDS

    delivery = config.delivery
    retention = config.retention
    today = now.astimezone(dt.UTC).date()
    deadlines = status.deadlines
    # Whole days ahead, at least 1 while still ahead: a deadline sits on the hour after its
    # retention (I3), so a 24 h retention reads "in 1 day", not "in 2 days".
    housekeeping_days = (
        None
        if deadlines.housekeeping is None
        else (deadlines.housekeeping - now).days or int(deadlines.housekeeping > now)
    )
    forward_low = delivery.batch_interval_seconds
    forward_high = forward_low + delivery.jitter_seconds
    return [
        f"reports: {_listing(status.reports)}",
        f"unassigned for {retention.unassigned_alert_days}+ days: {status.unassigned_overdue}"
        + ("  <- assign them with `sanad admin reassign`" if status.unassigned_overdue else ""),
        f"deliveries: pending {status.pending}{_by_class(status.retrying)}, "
        f"failed {sum(status.failed.values())}{_by_class(status.failed)}"
        + (
            "  <- once the cause is gone, queue them again with `sanad admin redeliver --all`"
            if status.failed
            else ""
        ),
        f"caseworkers: {_listing(status.caseworkers)}",
        f"enrolments waiting for approval: {status.enrolments_waiting} of "
        f"{status.enrolments_limit}"
        + (
            "  <- full: /enroll is refused until you approve some, they expire or you "
            "discard them with `sanad admin discard-enrolment`"
            if status.enrolments_waiting >= status.enrolments_limit
            else ""
        ),
        f"replies failing their signature check: {status.replies_unverified}"
        + ("  (not shown to reporters)" if status.replies_unverified else ""),
        *_bot_certificate_lines(status.bot_certificate, today),
        *_leadership_lines(status),
        "jobs (when the bot runs):",
        f"  forward  every {forward_low:g}-{forward_high:g} s",
        f"  erase    every {ERASE_INTERVAL_SECONDS:g} s",
        f"  purge    every {PURGE_INTERVAL_SECONDS / 60:g} min",
        "next deadlines:",
        f"  chat housekeeping ({retention.housekeeping_hours} h): {_in_days(housekeeping_days)}",
        f"  closed-report retention ({retention.closed_report_days} days): "
        + _in_days(
            None if deadlines.closed_report is None else (deadlines.closed_report - today).days
        ),
        f"  mailbox expiry ({retention.mailbox_days} days after last look-up): "
        + _in_days(None if deadlines.mailbox is None else (deadlines.mailbox - today).days),
    ]


def _leadership_json(status: Status) -> dict[str, object] | None:
    state = status.leadership
    if state is None:
        return None
    return {
        "epoch": state.epoch,
        "leader": next((i.name for i in status.instances if i.leading), None),
        "last_elected": state.leader,
        "since": state.since.isoformat() if state.since else None,
        "instances": [{"name": i.name, "leading": i.leading} for i in status.instances],
    }


def _status_json(status: Status) -> dict[str, object]:
    deadlines, certificate = status.deadlines, status.bot_certificate
    return {
        "reports": dict(status.reports),
        "unassigned_overdue": status.unassigned_overdue,
        "deliveries": {
            "pending": status.pending,
            "retrying": dict(status.retrying),
            "failed": dict(status.failed),
        },
        "caseworkers": dict(status.caseworkers),
        "enrolments": {
            "waiting": status.enrolments_waiting,
            "limit": status.enrolments_limit,
        },
        "replies_unverified": status.replies_unverified,
        "leadership": _leadership_json(status),
        "bot_certificate": {
            "expires": certificate.expires.isoformat() if certificate.expires else None,
            "renewal_due": certificate.renewal_due,
            "problem": str(certificate.problem) if certificate.problem else None,
        },
        "next_deadlines": {
            "housekeeping": deadlines.housekeeping.isoformat() if deadlines.housekeeping else None,
            "closed_report": deadlines.closed_report.isoformat()
            if deadlines.closed_report
            else None,
            "mailbox": deadlines.mailbox.isoformat() if deadlines.mailbox else None,
        },
    }


def status(
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document for scripts.")] = False,
) -> None:
    """Counts, pending deliveries, job intervals and the next retention deadlines.

    Shows how many reports are in each state (and how many have waited for a caseworker longer
    than retention.unassigned_alert_days), deliveries pending and failed by error class (with
    `sanad admin redeliver` to queue failed ones again), caseworkers by state, enrolments
    waiting for approval against their limit (past it /enroll is refused), how many stored
    replies fail their signature check (reporters are not shown them), the bot certificate's
    expiry (with a warning when renewal is due), how often each job runs, and in how many days
    the earliest stored item of each kind is purged. No content, case reference or identifier
    is shown.
    """
    from bot.services.status import gather_status

    settings = load_settings(config)
    now = dt.datetime.now(dt.UTC)
    found = on_database(settings, lambda db: gather_status(db, settings, now))
    if as_json:
        echo_json(_status_json(found))
        return
    echo_wrapped(_status_lines(found, settings, now))


# -- audit ---------------------------------------------------------------------------------------


def _actor(entry: AuditEntry) -> str:
    return entry.actor_key_id.hex()[: 2 * _SHORT_KEY_ID_BYTES] if entry.actor_key_id else "-"


def _counts(entry: AuditEntry) -> dict[str, int]:
    return entry.counts if isinstance(entry.counts, dict) else {}


def _audit_lines(entry: AuditEntry, width: int) -> list[str]:
    """``#id  day  event  actor`` then the counts, on the same line while it fits the terminal,
    else wrapped beneath: no part is ever cut short."""
    shown = " ".join(f"{name}={value}" for name, value in sorted(_counts(entry).items()))
    line = f"#{entry.id}  {entry.day.isoformat()}  {entry.event}  {_actor(entry)}"
    if shown and len(line) + 2 + len(shown) <= width:
        return [f"{line}  {shown}"]
    return [line, *wrapped(f"    {shown}", width, hang=4)] if shown else [line]


def _audit_record(entry: AuditEntry) -> dict[str, object]:
    return {
        "entry": entry.id,
        "day": entry.day.isoformat(),
        "event": entry.event,
        "actor": _actor(entry),
        "counts": _counts(entry),
    }


def audit_command(
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check links, signatures and the recorded head; exit 1 if the log was tampered.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON document for scripts: entries, head, verdict."),
    ] = False,
) -> None:
    """Print the audit log: entry, day, event, acting key id (short) and counts.

    The last line is the chain's head hash: write it down somewhere else from time to time. With
    --verify (on the server: it needs the bot key) every link is recomputed, every entry's
    signature by the bot key is checked, and the chain is compared with the length and head kept
    in the state directory; each problem found is one line, and the exit status is 1.
    """
    from storage import audit

    settings = load_settings(config)

    async def work(db: Database) -> tuple[list[AuditEntry], audit.ChainVerdict, bool]:
        async with db.sessionmaker() as session, session.begin():
            found = list(await audit.entries(session))
            return found, await audit.verify_chain(session), audit.seal_of(session) is not None

    entries, verdict, sealed = on_database(settings, work)
    if verify and not sealed:
        # Links alone can be recomputed by whoever rewrote the log: no key, no verdict.
        raise SanadError(
            f"there is no bot key in {settings.server.state_dir} to check the signatures with",
            hint="run `sanad admin audit --verify` on the server, with its configuration",
        )
    head = verdict.head.hex() if verdict.head else "-"
    if as_json:
        echo_json(
            {
                "entries": [_audit_record(entry) for entry in entries],
                "head": verdict.head.hex() if verdict.head else None,
                "verified": verdict.intact if verify else None,
                "problems": [problem.line for problem in verdict.problems] if verify else [],
            }
        )
        if verify and not verdict.intact:
            raise typer.Exit(1)
        return
    width = terminal_width()
    typer.echo("entry  day  event  actor  counts")
    for entry in entries:
        for line in _audit_lines(entry, width):
            typer.echo(line)
    # The head hash on a line of its own: it is copied and written down, never wrapped.
    if not verify:
        typer.echo(f"head after {verdict.entries} entries:")
        typer.echo(f"  {head}")
        return
    if not verdict.intact:
        *earlier, last = verdict.problems
        for problem in earlier:
            typer.echo(f"sanad: {problem.line}", err=True)
        raise AuditChainBroken(
            last.line,
            hint="entries from the one named on cannot be trusted; "
            "compare with a head hash written down elsewhere",
        )
    typer.echo(f"chain intact: {verdict.entries} entries, head:")
    typer.echo(f"  {head}")


def register(admin_app: typer.Typer) -> None:
    """Add ``status`` and ``audit`` to the ``sanad admin`` group."""
    admin_app.command("status")(status)
    admin_app.command("audit")(audit_command)
