"""The bot certificate's upkeep while the bot runs (DESIGN.md §4, format v2).

Every hour: take up a certificate that ``sanad admin certify-bot`` renewed beside the bot key
(:meth:`bot.bot_identity.BotIdentity.refresh`), so deliveries and ``/reply`` never go on under
one that expired; and, while renewal is due, say so in the log (days left only). Without this a
bot started before a renewal would keep signing with the old certificate until restarted, and
every caseworker would refuse its files once it expired.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from telegram.ext import Application, CallbackContext

from bot.bot_identity import BotIdentity
from bot.jobs import job_queue_of
from bot.logs import event, get_logger

JOB_NAME = "certificate"
INTERVAL_SECONDS = 3600

_log = get_logger("jobs.certificate")


def check_certificate(bot: BotIdentity, today: dt.date) -> None:
    """One run: refresh, then warn while renewal is due."""
    if bot.refresh(today):
        event(_log, "bot.certificate_renewed", days_left=(bot.verified.expires - today).days)
    bot.warn_if_renewal_due(today)


def register_certificate_job(
    application: Application[Any, Any, Any, Any, Any, Any], bot: BotIdentity
) -> None:
    """Check the bot certificate every :data:`INTERVAL_SECONDS`; for :mod:`bot.app`."""

    async def check(_context: CallbackContext[Any, Any, Any, Any]) -> None:
        check_certificate(bot, dt.datetime.now(dt.UTC).date())

    job_queue_of(application, JOB_NAME).run_repeating(
        check, interval=INTERVAL_SECONDS, first=INTERVAL_SECONDS, name=JOB_NAME
    )
