"""Scheduled work of the bot, run by PTB's JobQueue (APScheduler) (DESIGN.md §6).

- :mod:`bot.jobs.forward` delivers sealed reports and addenda from the outbox to caseworkers.

- :mod:`bot.jobs.erase` deletes conversation messages from reporters' chats at their deadline.
- :mod:`bot.jobs.purge` enforces retention and rotates the housekeeping keys.
- :mod:`bot.jobs.certificate` takes up a renewed bot certificate and warns before expiry.

Each job module offers one ``register_..._job(application, ...)`` that :mod:`bot.app` calls.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, JobQueue


def job_queue_of(application: Application[Any, Any, Any, Any, Any, Any], job: str) -> JobQueue[Any]:
    """The application's JobQueue, which every job runs from.

    Raises RuntimeError naming ``job`` when PTB lacks its job-queue extra (pyproject.toml
    requires it, so this is an installation fault, found at start rather than never).
    """
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError(f"the {job} job needs python-telegram-bot[job-queue]")
    return job_queue
