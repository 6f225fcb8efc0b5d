"""What ``sanad check-config`` checks beyond the file itself: the deployment around it.

A configuration can be valid and still not run: its folders cannot be written, the recovery key
no longer matches the stored reports, the bot has no certificate, the Bot API refuses the token.
Each check here is what ``sanad run`` would stumble on, said before it does, in the words of
:mod:`bot.failures` and the services. Nothing here creates anything: no bot key, no database,
no folder (a probe file is made in an existing folder and removed at once).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import SanadError
from bot.failures import folder_failure
from storage.errors import StorageError

if TYPE_CHECKING:
    from bot.config import Config


@dataclass(frozen=True)
class Finding:
    """One row of the report: what was checked, what was found, and a problem if any."""

    name: str
    found: str
    problem: SanadError | StorageError | None = None


def _writable(what: str, folder: Path, setting: str) -> Finding:
    """Whether files can be made in ``folder`` (or, if missing, in the folder that would hold it).

    A real probe file, not ``os.access``: root passes every permission check but not a
    read-only mount or a full disk's missing inode.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".sanad-check-"):
            pass
    except OSError as exc:
        problem = folder_failure(what, existing, exc, setting=setting)
        return Finding(what, str(problem), problem)
    suffix = "" if existing == folder else f" (made on first run in {existing})"
    return Finding(what, f"writable: {folder}{suffix}")


def _bot_certificate(config: Config, today: dt.date) -> Finding:
    from bot.bot_identity import BOT_DIRNAME, KEY_FILENAME, load_bot_identity

    state_dir = config.server.state_dir
    if not (state_dir / BOT_DIRNAME / KEY_FILENAME).exists():
        # load_bot_identity would make the key: check-config creates nothing.
        problem = SanadError(
            "the bot key has no certificate yet",
            hint="run: sanad admin certify-bot --org-key FILE (on the server, with the admin's "
            "key); it makes the bot key too",
        )
        return Finding("bot certificate", "none yet", problem)
    try:
        identity = load_bot_identity(state_dir, config.organisation.signing_public_key, today=today)
    except SanadError as exc:
        return Finding("bot certificate", str(exc), exc)
    return Finding("bot certificate", f"valid until {identity.verified.expires.isoformat()}")


def _recovery_wraps(config: Config) -> Finding:
    """The configured recovery key against the stored wraps, if there is a database to read."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from bot.services.key_lifecycle import recovery_wraps_problem
    from storage.engine import explain_failure, open_database
    from storage.models import ReportBody

    name = "recovery wraps"
    url = config.database.url
    if config.database.backend == "sqlite" and not _sqlite_file(config).exists():
        return Finding(name, "no database yet: nothing sealed to check against")

    async def check() -> Finding:
        db = open_database(url)
        try:
            async with db.engine.connect() as connection:
                has_reports = await connection.run_sync(
                    lambda sync: inspect(sync).has_table(ReportBody.__tablename__)
                )
            if not has_reports:
                return Finding(name, "no reports table yet: nothing sealed to check against")
            async with db.sessionmaker() as session, session.begin():
                problem = await recovery_wraps_problem(
                    session, config.organisation.recovery_public_key
                )
        except (OSError, SQLAlchemyError) as exc:
            failure = explain_failure(url, exc) or SanadError("the database could not be read")
            return Finding("database", str(failure), failure)
        finally:
            await db.close()
        if problem is not None:
            return Finding(name, "does not match the stored reports", problem)
        return Finding(name, "matches every stored report part")

    return asyncio.run(check())


def _sqlite_file(config: Config) -> Path:
    from sqlalchemy.engine import make_url

    return Path(make_url(config.database.url).database or "").absolute()


def _bot_api(config: Config) -> Finding:
    """``getMe`` with the configured token, at the configured Bot API."""
    from telegram import Bot

    from bot.config import load_bot_token, token_source
    from bot.failures import bot_api_failures

    api = config.telegram.api_base_url
    try:
        token = load_bot_token(config)
    except SanadError as exc:
        return Finding("Bot API (online)", "not asked: no token", exc)

    async def ask() -> str:
        bot = Bot(token.reveal(), base_url=f"{api}/bot", base_file_url=f"{api}/file/bot")
        async with bot:
            me = await bot.get_me()
        return f"@{me.username}"

    try:
        with bot_api_failures(api, token_source(config)):
            username = asyncio.run(ask())
    except SanadError as exc:
        return Finding("Bot API (online)", "no answer to getMe", exc)
    return Finding("Bot API (online)", f"answers getMe at {api} as {username}")


def check_deployment(config: Config, *, online: bool) -> list[Finding]:
    """Every check, in the order ``sanad run`` meets them; the Bot API only when ``online``."""
    findings: list[Finding] = []
    if config.database.backend == "sqlite":
        findings.append(_writable("database folder", _sqlite_file(config).parent, "database.url"))
    findings.append(_writable("state folder", config.server.state_dir, "server.state_dir"))
    findings.append(_bot_certificate(config, dt.datetime.now(dt.UTC).date()))
    findings.append(_recovery_wraps(config))
    if online:
        findings.append(_bot_api(config))
    return findings
