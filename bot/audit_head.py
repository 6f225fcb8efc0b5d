"""The bot's seal on the audit log: its key signs each entry, a state file keeps the head.

``storage.audit`` chains the entries; this module is the :class:`storage.audit.AuditSeal` it
calls (docs/admins.md, "the audit log"):

- every entry is signed with the bot key (``<state_dir>/bot/signing-key``) over its position and
  hash (``crypto.audit_signature``), so a database writer without the key cannot rewrite the log
  and sign it again;
- after each commit that appended, the chain's length and head hash are written to
  ``<state_dir>/audit-head``, which a database writer cannot reach either, so deleting the
  newest entries is caught too. The file is one line of ASCII::

      sanad-audit-head 1 <length, decimal> <head entry hash, 64 lower-case hex digits>

  It is replaced atomically (0600), only ever by a greater length, under an ``flock`` on
  ``<state_dir>/audit-head.lock`` so two processes (the bot and an admin command) cannot move it
  backwards between reading and replacing it.

What it cannot stop: someone who controls the server holds the bot key and the state directory
(DESIGN.md §2, I9). If the bot key is replaced (the state directory was lost, or the key was
removed after a revocation), entries signed by the old key no longer verify: ``--verify`` names
them, and the log from before the new key must be judged by the head hashes admins wrote down.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from bot.bot_identity import BOT_DIRNAME, KEY_FILENAME, load_or_create_bot_key
from bot.config import ConfigError
from crypto.audit_signature import audit_entry_signed, sign_audit_entry
from crypto.keys import Ed25519SigningKey
from storage.audit import AuditHeadUnreadable

if TYPE_CHECKING:
    from storage.engine import Database

HEAD_FILENAME = "audit-head"
_LOCK_FILENAME = "audit-head.lock"
_MAGIC = "sanad-audit-head"
_FORMAT_VERSION = 1
_HEAD_LINE = re.compile(rf"{_MAGIC} {_FORMAT_VERSION} ([1-9][0-9]{{0,19}}) ([0-9a-f]{{64}})\n")
_MAX_HEAD_FILE = 128


class BotAuditSeal:
    """:class:`storage.audit.AuditSeal` with the bot key and ``<state_dir>/audit-head``."""

    def __init__(self, state_dir: Path, key: Ed25519SigningKey) -> None:
        self._state_dir = state_dir
        self._key = key

    @property
    def head_path(self) -> Path:
        return self._state_dir / HEAD_FILENAME

    def sign(self, position: int, entry_hash: bytes) -> bytes:
        return sign_audit_entry(self._key, position, entry_hash)

    def verify(self, position: int, entry_hash: bytes, signature: bytes) -> bool:
        return audit_entry_signed(self._key.public_key, position, entry_hash, signature)

    def recorded_head(self) -> tuple[int, bytes] | None:
        """The recorded (length, head); None without a file (nothing appended with this seal yet).

        Raises :class:`AuditHeadUnreadable` for a file that cannot be read or is damaged.
        """
        path = self.head_path
        try:
            with path.open("rb") as handle:
                data = handle.read(_MAX_HEAD_FILE + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditHeadUnreadable(
                f"the audit head {path} cannot be read ({exc.strerror or 'error'})"
            ) from None
        found = _HEAD_LINE.fullmatch(data.decode("ascii", "replace"))
        if found is None or int(found[1]) >= 2**64:
            raise AuditHeadUnreadable(f"the audit head {path} is damaged")
        return int(found[1]), bytes.fromhex(found[2])

    def record_head(self, length: int, head: bytes) -> None:
        """Write (length, head) unless the file already records as many entries or more."""
        if not 0 < length < 2**64 or len(head) != 32:
            raise ValueError("an audit head is a positive u64 length and a 32-byte hash")
        path = self.head_path
        try:
            lock_fd = os.open(
                self._state_dir / _LOCK_FILENAME,
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                0o600,
            )
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                recorded = self.recorded_head()
                if recorded is not None and recorded[0] >= length:
                    return  # the record only moves forward
                _replace(path, f"{_MAGIC} {_FORMAT_VERSION} {length} {head.hex()}\n".encode())
            finally:
                os.close(lock_fd)  # closing releases the flock
        except OSError as exc:
            raise ConfigError(
                f"the audit head {path} cannot be written ({exc.strerror or 'error'})",
                hint="the change itself was saved; fix the state directory's permissions",
            ) from None


def _replace(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` (0600), durable before and after the rename."""
    staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def install_audit_seal(database: Database, state_dir: Path, key: Ed25519SigningKey) -> BotAuditSeal:
    """Seal every audit entry appended through ``database`` with ``key``; record heads there.

    ``sanad run`` passes the bot key of its certified identity; admin commands use
    :func:`install_existing_audit_seal`.
    """
    seal = BotAuditSeal(state_dir, key)
    database.install_audit_seal(seal)
    return seal


def install_existing_audit_seal(database: Database, state_dir: Path) -> bool:
    """Install the seal with the bot key already in ``state_dir``; False when there is none.

    A command run away from the server (an admin's machine reaching a shared PostgreSQL) has no
    bot key: it must not make one, whose signatures the server would reject. Its entries are
    then unsigned, and ``--verify`` on the server names them.
    """
    if not (state_dir / BOT_DIRNAME / KEY_FILENAME).exists():
        return False
    install_audit_seal(database, state_dir, load_or_create_bot_key(state_dir))
    return True
