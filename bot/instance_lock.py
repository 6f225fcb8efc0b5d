"""One ``sanad run`` per SQLite database: an exclusive lock held for the life of the process.

Two bots on one SQLite file and one token fight over Telegram's updates (each ``getUpdates``
ends the other's with 409 Conflict) and over SQLite's single writer; nothing good comes of it.
The lock is ``flock`` on ``<database>.lock`` beside the database file: the kernel drops it when
the process ends, however it ends (SIGKILL, power loss), so a crash never leaves a stale lock to
clean by hand. PostgreSQL deployments may run several processes and are not locked here.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bot.errors import SanadError
from bot.failures import folder_failure


class AnotherInstanceRunning(SanadError):
    """Another ``sanad run`` holds this SQLite database."""


def lock_path(database: Path) -> Path:
    """The lock file of the SQLite database ``database``."""
    return database.with_name(database.name + ".lock")


def hold_instance_lock(database: Path) -> int:
    """Take the exclusive lock of the SQLite database ``database``; return the descriptor.

    The caller keeps the descriptor open for as long as it runs the bot (closing it, or exiting,
    releases the lock). Raises :class:`AnotherInstanceRunning` when another process holds it, and
    :class:`bot.failures.OperationalFailure` when the lock file cannot be made.
    """
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise folder_failure(
            "database folder", database.parent, exc, setting="database.url"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AnotherInstanceRunning(
            f"another `sanad run` is using the database {database}",
            hint="stop it first: one bot process per SQLite database "
            "(run several only on PostgreSQL)",
        ) from None
    return fd
