"""What the running bot shares between its features, and ``sanad run`` itself.

A :class:`Runtime` is opened once per process: the database, the server secrets, the bounded
Argon2id pool. Features (the reporter's conversation, caseworker commands, the scheduler's jobs)
receive it, or services built from it, through :func:`bot.app.build_application`; nothing in
Sanad keeps it in a global.

``run`` applies pending migrations before the first update is handled, then receives updates by
polling or PTB's webhook server until SIGINT or SIGTERM, which stop it cleanly wherever start-up
was, reading the configuration included (:mod:`bot.lifecycle`): after the update in hand, open
conversations handed over, and ``post_shutdown`` closing the runtime. On PostgreSQL the process
is one of any number of instances, and receives updates only while it leads
(:mod:`bot.leadership.serve`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from bot.audit_head import install_audit_seal
from bot.bot_identity import BotIdentity, load_bot_identity
from bot.config import Config, load_bot_token, load_config, load_webhook_secret, token_source
from bot.failures import bot_api_failures, folder_failure
from bot.instance_lock import hold_instance_lock
from bot.lifecycle import StartReceiving, run_until_stopped
from bot.logs import configure_logging, event, get_logger
from bot.server_secrets import ServerSecrets, load_or_create_server_secrets
from crypto.kdf_pool import KdfPool
from storage import outbox
from storage.engine import Database, explain_failure, open_database
from storage.errors import DatabaseUnavailable
from storage.migrate import upgrade_database

if TYPE_CHECKING:
    from telegram.error import TelegramError

_log = get_logger("runtime")


@dataclass(frozen=True)
class Runtime:
    """Long-lived resources of one bot process; closed by :meth:`close`."""

    config: Config
    database: Database
    secrets: ServerSecrets
    kdf_pool: KdfPool
    bot: BotIdentity

    @classmethod
    def open(cls, config: Config) -> Runtime:
        """Open the resources; nothing connects to the database until first use.

        Raises :class:`bot.bot_identity.BotNotCertified` when the bot key has no certificate from
        the pinned organisation key valid today: the bot would send files nobody can trust (I9).
        Logs ``bot.certificate_renewal_due`` (with the days left, nothing else) when the
        certificate runs out within :data:`bot.bot_identity.RENEWAL_WARNING_DAYS`: once it
        expires, caseworkers refuse every file and the bot no longer starts. Raises
        :class:`bot.failures.OperationalFailure` naming the state folder when it cannot be
        written, and :class:`storage.errors.DatabaseUnavailable` naming the database folder.
        """
        state_dir = config.server.state_dir
        today = dt.datetime.now(dt.UTC).date()
        try:
            secrets = load_or_create_server_secrets(state_dir)
            bot = load_bot_identity(state_dir, config.organisation.signing_public_key, today=today)
        except OSError as exc:
            raise folder_failure(
                "state folder", state_dir, exc, setting="server.state_dir"
            ) from exc
        bot.warn_if_renewal_due(today)
        database = open_database(config.database.url)
        # The bot's own jobs (purge) sign their audit entries too (docs/crypto.md, "Audit log
        # signatures").
        install_audit_seal(database, state_dir, bot.key)
        return cls(
            config=config,
            database=database,
            secrets=secrets,
            kdf_pool=KdfPool(
                config.limits.argon2_queue_size,
                workers=config.limits.argon2_workers,
                max_waiting_submissions=config.limits.submission_queue_size,
                lookups_per_minute=config.limits.receipt_lookups_per_minute,
            ),
            bot=bot,
        )

    async def prepare(self) -> None:
        """Apply pending migrations and refuse to start mid recovery key rotation, with
        revocations missing from the database, or with a revoked bot key: run before the first
        update is handled.

        Raises :class:`bot.services.caseworkers.RevocationsRolledBack` when the database's latest
        valid revocation list is below the high-water mark (I9), and
        :class:`bot.bot_identity.BotNotCertified` when that list names the bot key. Otherwise
        raises the mark to the list in force.
        """
        # Imported here: the key lifecycle service imports the features that import this module.
        from bot.revocation_mark import raise_mark, revocation_floor
        from bot.services.key_lifecycle import check_recovery_wraps, revocations_in_force

        organisation = self.config.organisation
        state_dir = self.config.server.state_dir
        await upgrade_database(self.database)
        try:
            await check_recovery_wraps(self.database, organisation.recovery_public_key)
            if self.database.sqlite_path is not None:
                await self._release_dead_claims()
            revocations = await revocations_in_force(
                self.database,
                organisation.signing_public_key,
                min_serial=revocation_floor(state_dir, organisation.min_revocation_serial),
            )
        except (OSError, SQLAlchemyError) as exc:
            # The driver's text may quote SQL and values: it stays in __cause__, unprinted.
            explained = explain_failure(self.config.database.url, exc)
            raise explained or DatabaseUnavailable("the database could not be read") from exc
        if revocations is not None:
            # I9: a bot whose own key the organisation revoked must not sign anything more.
            load_bot_identity(state_dir, organisation.signing_public_key, revocations=revocations)
            raise_mark(state_dir, revocations.serial)
        event(_log, "database.ready")

    async def _release_dead_claims(self) -> None:
        """SQLite has one ``sanad run`` (``bot.instance_lock``): a delivery claimed when it starts
        was claimed by a process that died (SIGKILL, a crash) and goes out now, not after the
        claim's lease. PostgreSQL's leader does this for instances that are gone
        (``bot.leadership.claims``)."""
        async with self.database.sessionmaker() as session, session.begin():
            released = await outbox.release_every_claim(session)
        if released:
            event(_log, "outbox.claims_released", count=released)

    async def close(self) -> None:
        self.kdf_pool.close()
        await self.database.close()


def disable_core_dumps() -> None:
    """Make this process (and the cleaning workers it starts) unable to write a core dump.

    I1: drafts, files being cleaned and receipts being shown live only in this process's memory;
    a crash that dumped core would put them on disk. The unit file sets ``LimitCORE=0`` too, but
    the bot may be started without it (a container, a shell); the hard limit is lowered as well,
    so nothing in the process can raise it again.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def webhook_arguments(config: Config) -> dict[str, Any]:
    """Where PTB's webhook server listens and what it registers with Telegram."""
    telegram = config.telegram
    if telegram.webhook_url is None:  # the configuration model already refuses this
        raise ValueError("webhook mode without webhook_url")
    return {
        "listen": telegram.webhook_listen,
        "port": telegram.webhook_port,
        # The whole path of webhook_url, as a reverse proxy passes it on (not only its last
        # segment, and "/" for a URL without a path).
        "url_path": urlsplit(telegram.webhook_url).path.strip("/"),
        "webhook_url": telegram.webhook_url,
        "secret_token": load_webhook_secret(config).reveal(),
    }


def run(config_path: Path) -> None:
    """``sanad run``: load the configuration, then poll or serve the webhook until stopped.

    Refuses to start, with one line, when another ``sanad run`` holds the same SQLite database
    (:mod:`bot.instance_lock`; the lock is held until the process ends). The failures of
    start-up a person can fix — the Bot API unreachable or refusing the token, a folder not
    writable, a full disk — are raised as :class:`bot.failures.OperationalFailure` or
    :class:`storage.errors.DatabaseUnavailable`.
    """
    # Imported here so that commands which never run the bot do not import PTB's application.
    from bot.app import build_application
    from bot.heap import settle_heap
    from bot.leadership.fence import SINGLE_INSTANCE, LeaderFence, Role
    from bot.leadership.serve import run_instance

    # First, before anything reporters send can be in memory.
    disable_core_dumps()
    config = load_config(config_path)
    configure_logging(config.logging.level, json_lines=config.logging.json_lines)
    token = load_bot_token(config)
    runtime = Runtime.open(config)
    if runtime.database.sqlite_path is not None:
        try:
            # Kept open, unused, until the process ends: the kernel then releases the lock.
            hold_instance_lock(runtime.database.sqlite_path)
        except BaseException:
            asyncio.run(runtime.close())
            raise
    # On PostgreSQL, one of any number of instances (bot.leadership); SQLite has one process.
    role: Role = SINGLE_INSTANCE if runtime.database.sqlite_path is not None else LeaderFence(
        runtime.database
    )
    application = build_application(config, token, runtime, role)
    # What is alive once the application is built lives as long as the process (bot/heap.py).
    settle_heap()
    event(_log, "bot.starting")
    telegram = config.telegram
    with bot_api_failures(telegram.api_base_url, token_source(config)):
        if isinstance(role, LeaderFence):
            run_instance(application, role, config)
        else:
            asyncio.run(run_until_stopped(application, receiving(application, config)))
    event(_log, "bot.stopped")


def receiving(application: Any, config: Config) -> StartReceiving:
    """How the single instance starts receiving updates: PTB's webhook server or polling.

    A failure to fetch updates while polling goes to the error handlers, as ``run_polling``
    sends it (:mod:`bot.update_conflict` says a competing poller there).
    """
    updater = application.updater
    drop = config.telegram.drop_pending_updates
    if config.telegram.mode == "webhook":
        arguments = webhook_arguments(config)
        return lambda: updater.start_webhook(**arguments, drop_pending_updates=drop)

    def to_error_handlers(exc: TelegramError) -> None:
        application.create_task(application.process_error(error=exc, update=None))

    return lambda: updater.start_polling(
        drop_pending_updates=drop, error_callback=to_error_handlers
    )
