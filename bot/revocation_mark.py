"""The revocation high-water mark (DESIGN.md §4, format v2, I9): kept outside the database.

A revocation list is signed, so nobody without the organisation key can forge one; but a
database writer can *delete* the latest list, or every list, and flip a revoked caseworker's
status back to ``verified``: the certificate still verifies, and without the list nothing says
it was revoked. So the highest list serial the bot has accepted is also written to
``<state_dir>/revocation-serial`` (0600, decimal digits), a file that only ever grows, and an
admin may pin a floor in the configuration (``organisation.min_revocation_serial``). The floor
is the larger of the two; when the database's latest valid list is below it (or there is none
while it is above 0), the bot neither seals nor starts.

The file sits with the server secrets' threat model: whoever can write the state directory can
also replace the bot key, which I9 names as the limit. What the file stops is a database writer.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import stat
from pathlib import Path

from bot.config import ConfigError

MARK_FILENAME = "revocation-serial"
_LOCK_SUFFIX = ".lock"
_MAX_MARK_BYTES = 32
_MAX_SERIAL = 2**64 - 1


def mark_path(state_dir: Path) -> Path:
    """Where the mark of the deployment whose state directory is ``state_dir`` lives."""
    return state_dir / MARK_FILENAME


def read_mark(state_dir: Path) -> int:
    """The highest revocation list serial accepted so far (0 when no file exists yet).

    Raises :class:`ConfigError` when the file is a symlink, not private (0600, this user's), or
    not a serial: a damaged mark is refused rather than read as 0, which would undo it.
    """
    path = mark_path(state_dir)
    try:
        # O_NOFOLLOW: a symlink planted in place of the mark is refused, not followed.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise ConfigError(
            f"the revocation mark {path} cannot be read ({exc.strerror or 'error'})"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.geteuid()
            or stat.S_IMODE(info.st_mode) & 0o077
        ):
            raise ConfigError(
                f"the revocation mark {path} is not a private file of this user (mode 0600)"
            )
        text = handle.read(_MAX_MARK_BYTES + 1).decode("ascii", "replace").strip()
    if not (text.isascii() and text.isdigit()) or int(text) > _MAX_SERIAL:
        raise ConfigError(
            f"the revocation mark {path} is damaged",
            hint="write into it the serial `sanad admin revoke` last printed",
        )
    return int(text)


def revocation_floor(state_dir: Path, configured: int) -> int:
    """The lowest revocation list serial the bot accepts: the mark or the configured floor."""
    return max(read_mark(state_dir), configured)


def raise_mark(state_dir: Path, serial: int) -> bool:
    """Raise the mark to ``serial`` if it is higher; never lowers it. True when it changed.

    Does nothing (and returns False) where there is no state directory, as on an admin's own
    machine: the bot raises its mark itself when it next starts. The new value is written to a
    private temporary file and renamed over the old one, under a lock, so a crash or two writers
    at once never leave a half-written or lowered mark.
    """
    if not 0 <= serial <= _MAX_SERIAL:
        raise ValueError("a revocation list serial is an unsigned 64-bit integer")
    if not state_dir.is_dir():
        return False
    path = mark_path(state_dir)
    lock_fd = os.open(
        path.with_name(MARK_FILENAME + _LOCK_SUFFIX),
        os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
    )
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if serial <= read_mark(state_dir):
            return False
        staging = path.with_name(f".{MARK_FILENAME}.{secrets.token_hex(8)}.tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(f"{serial}\n".encode("ascii"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
        directory = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True
    finally:
        os.close(lock_fd)
