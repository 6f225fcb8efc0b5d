"""Scheduled work of the bot, run by PTB's JobQueue (APScheduler) (DESIGN.md §6).

- :mod:`bot.jobs.forward` delivers sealed reports and addenda from the outbox to caseworkers.

Each job module offers one ``register_..._job(application, runtime)`` that :mod:`bot.app` calls.
"""
