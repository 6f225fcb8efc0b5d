"""All the wiring of the Telegram application in one builder (STYLE.md "Conversations").

``build_application`` makes the python-telegram-bot ``Application`` for a configuration: the Bot
API server from ``telegram.api_base_url`` (Telegram's, a self-hosted ``telegram-bot-api``, or the
local one the tests and ``sanad try`` use), PTB's rate limiter at ``delivery.messages_per_second``,
concurrent updates so one reporter's slow step never holds up another's (I8), and no persistence
at all: drafts live in memory only (I1). Each feature then registers its handlers and jobs here,
one line each.
"""

from __future__ import annotations

from functools import partial

from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.config import BotToken, Config
from bot.health import register_health
from bot.jobs.certificate import register_certificate_job
from bot.jobs.erase import register_erase_job
from bot.jobs.forward import register_forward_job
from bot.jobs.journal import register_journal_job
from bot.jobs.purge import register_purge_job
from bot.leadership.fence import SINGLE_INSTANCE, Role
from bot.leadership.lost_drafts import LostDrafts
from bot.leadership.updates import register_update_gate
from bot.readable_updates import ReadableUpdatesRequest
from bot.readable_webhook import use_readable_webhook
from bot.runtime import Runtime
from bot.services.caseworkers import register_caseworker_commands
from bot.services.erase_journal import EraseJournal
from bot.services.housekeeping import Housekeeping
from bot.services.mailbox import register_replies, register_status
from bot.services.report_submission import register_report_flow
from bot.update_conflict import register_conflict_notice
from bot.update_order import PerChatUpdateProcessor
from bot.upload_limit import BotApiRequest
from handlers.chat import erase_message_later
from handlers.lost_draft import install_lost_draft_notice
from handlers.report_flow import install_outside_catch_all

# How many updates run at once across chats; slow work inside a handler runs off the event loop.
CONCURRENT_UPDATES = 64
# Keep-alive connections the bot's calls to the Bot API share (getUpdates has its own). httpcore
# looks at every connection of its pool, polling each idle one's socket, and at every waiting
# request, twice per call, so PTB's default pool of 256 grows with each burst of concurrent
# updates and makes every call dearer while it lasts: 30 concurrent callers on the local server
# cost 1.4-1.5 ms of CPU a call with 8 connections, 1.7-2.1 ms with 16, 1.6-3.1 ms with 256.
# Eight calls in flight at once are several times what Telegram's limits let a bot send; a
# call that finds all eight busy (large file downloads, a slow Telegram) waits for one, up to
# POOL_WAIT_SECONDS, rather than failing.
BOT_API_CONNECTIONS = 8
POOL_WAIT_SECONDS = 30.0


def build_application(
    config: Config, token: BotToken, runtime: Runtime, role: Role = SINGLE_INSTANCE
) -> Application:  # type: ignore[type-arg]
    """The configured application; ``runtime`` is prepared at start and closed at shutdown.

    ``role`` says when this process may receive updates and run the once-only jobs: always when
    it is alone with its database, only while it leads among several on PostgreSQL
    (:mod:`bot.leadership`).
    """
    api = config.telegram.api_base_url

    async def post_init(_application: Application) -> None:  # type: ignore[type-arg]
        await runtime.prepare()

    async def post_stop(application: Application) -> None:  # type: ignore[type-arg]
        # I7 after a stop (SIGTERM): open conversations' message ids are sealed for the erase job,
        # and what the journal still buffers (outside messages) is stored.
        await status_flow.hand_over(application)
        # Reports in progress die with the process: their reporters are told at the next start
        # or by the successor (bot.leadership.lost_drafts).
        journal.cut_short()
        await report_flow.hand_over(application)
        await journal.flush()

    async def post_shutdown(_application: Application) -> None:  # type: ignore[type-arg]
        await runtime.close()

    # In webhook mode too, an update the library cannot read is answered and counted, never
    # redelivered for ever.
    use_readable_webhook()
    housekeeping = Housekeeping.from_runtime(runtime, role)
    lost_drafts = LostDrafts()
    # Every message id the flows record is journalled as it goes (I7 after a hard stop).
    journal = EraseJournal(housekeeping)
    dropped = partial(erase_message_later, journal)
    application = (
        ApplicationBuilder()
        .token(token.reveal())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        # A 413 is a refusal of the upload, not a network failure (bot/upload_limit.py).
        .request(
            BotApiRequest(
                connection_pool_size=BOT_API_CONNECTIONS, pool_timeout=POOL_WAIT_SECONDS
            )
        )
        # An update the library cannot read is skipped and counted, never a stuck batch.
        .get_updates_request(ReadableUpdatesRequest())
        # max_retries=0: a RetryAfter reaches the caller, which reschedules (forward job).
        .rate_limiter(
            AIORateLimiter(overall_max_rate=config.delivery.messages_per_second, max_retries=0)
        )
        # Concurrent across chats, in order within a chat (bot/update_order.py).
        .concurrent_updates(PerChatUpdateProcessor(CONCURRENT_UPDATES, on_dropped=dropped))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    # First of the error handlers: a polling Conflict is said once and reaches no other.
    register_conflict_notice(application)
    # First of all handlers: an update is handled once, by the leader (bot.leadership).
    register_update_gate(application, role, on_skipped=dropped)
    install_lost_draft_notice(application, lost_drafts, journal, config.organisation.languages)
    # /status first: while it is open, its /forget must reach it (handlers.status_flow).
    status_flow = register_status(application, runtime, journal)
    report_flow = register_report_flow(application, runtime, journal)
    register_journal_job(application, journal)
    register_erase_job(application, housekeeping, role, on_lost_draft=lost_drafts.note)
    register_purge_job(application, runtime, housekeeping, role)
    register_forward_job(application, runtime, role)
    register_certificate_job(application, runtime.bot)
    register_health(application, runtime, role=role)
    register_caseworker_commands(application, runtime)
    register_replies(application, runtime)
    # Last: what no handler above took, outside a conversation, is answered and erased (I7).
    install_outside_catch_all(application, report_flow)
    return application
