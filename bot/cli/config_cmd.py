"""``sanad check-config``, and the ``--config`` option every deployment command shares.

Other commands reuse :data:`ConfigOption`, :data:`DEFAULT_CONFIG_PATH` and
:func:`load_settings`::

    def run(config: ConfigOption = DEFAULT_CONFIG_PATH) -> None:
        settings = load_settings(config)

and let a :class:`bot.config.ConfigError` propagate: the CLI's one error handler prints it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from bot.config import Config

DEFAULT_CONFIG_PATH = Path("config.toml")

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config",
        help="The deployment's configuration file (see config.example.toml).",
        dir_okay=False,
    ),
]


def load_settings(path: Path) -> Config:
    """The configuration at ``path``, validated; raises :class:`bot.config.ConfigError`.

    Imported on use: the configuration model loads pydantic and SQLAlchemy's URL parser, which
    the commands that never read a configuration (a caseworker's, ``--help``) must not pay for.
    """
    from bot.config import load_config

    return load_config(path)


def register(app: typer.Typer) -> None:
    """Add the configuration commands to the main application."""
    app.command("check-config")(check_config)


def check_config(
    config: ConfigOption = DEFAULT_CONFIG_PATH,
    online: Annotated[
        bool,
        typer.Option("--online", help="Also ask the Bot API whether it accepts the token (getMe)."),
    ] = False,
) -> None:
    """Validate the configuration and the deployment around it; say exactly what is wrong.

    Checks the file, then what `sanad run` would meet: that the database and state folders can
    be written, that the bot certificate is valid, and that the recovery key matches the stored
    reports (when there is a database). With --online, that the Bot API answers getMe for the
    token. All well: a short summary, exit 0. Otherwise one `sanad:` line (and a hint) per
    problem, exit 1. Creates nothing; never prints the token or a database password.
    """
    from bot.cli.config_checks import check_deployment
    from bot.config import config_warnings

    settings = load_settings(config)
    findings = check_deployment(settings, online=online)
    problems = [finding.problem for finding in findings if finding.problem is not None]
    lines = summary(settings, [(finding.name, finding.found) for finding in findings])
    if problems:
        lines[0] = f"configuration file is valid; the deployment has {len(problems)} problem(s)"
    for line in lines:
        typer.echo(line)
    for warning in config_warnings(settings):
        typer.echo(f"sanad: warning: {warning}", err=True)
    for problem in problems:
        typer.echo(f"sanad: {problem}", err=True)
        if problem.hint:
            typer.echo(f"hint: {problem.hint}", err=True)
    if problems:
        raise typer.Exit(1)


def summary(config: Config, checked: list[tuple[str, str]] | None = None) -> list[str]:
    """The lines ``check-config`` prints for a valid configuration: no secret, no full URL.

    ``checked`` adds rows (name, what was found) after the configuration's own.

    Raises :class:`ConfigError` if server secrets exist but are damaged or open to others.
    """
    from bot.config import ConfigError, load_bot_token, token_source
    from bot.server_secrets import SECRETS_DIRNAME, find_server_secrets

    telegram, org = config.telegram, config.organisation
    delivery, retention, health = config.delivery, config.retention, config.health
    try:
        load_bot_token(config)
        token = f"found ({token_source(config)})"
    except ConfigError as exc:
        token = f"NOT FOUND: {exc}"
    secrets_dir = config.server.state_dir / SECRETS_DIRNAME
    if find_server_secrets(config.server.state_dir) is not None:
        server_secrets = f"present in {secrets_dir}"
    else:
        server_secrets = f"not created yet (made in {secrets_dir} on first run)"
    if telegram.mode == "webhook":
        mode = f"webhook, listening on {telegram.webhook_listen}:{telegram.webhook_port}"
    else:
        mode = "polling"
    rows = [
        ("organisation", org.name),
        ("signing key id", org.signing_public_key.key_id.hex()),
        ("recovery key id", org.recovery_public_key.key_id.hex()),
        ("database", config.database.describe()),
        ("Bot API", telegram.api_base_url),
        ("mode", mode),
        ("token", token),
        ("server secrets", server_secrets),
        (
            "delivery",
            f"in batches every {delivery.batch_interval_seconds:g} s, "
            f"plus up to {delivery.jitter_seconds:g} s of random delay",
        ),
        (
            "retention",
            f"chat housekeeping {retention.housekeeping_hours} h, closed reports "
            f"{retention.closed_report_days} days, mailboxes {retention.mailbox_days} days",
        ),
        ("languages", ", ".join(org.languages)),
        ("health", f"on {health.listen}:{health.port}" if health.enabled else "off"),
        *(checked or []),
    ]
    width = max(len(name) for name, _ in rows)
    return ["configuration is valid"] + [f"  {name:<{width}}  {value}" for name, value in rows]
