"""Chat erasure the conversation could not finish itself: sealed, kept briefly, erased (I2, I7).

The report flow deletes a conversation's messages when it ends. When Telegram refuses or the
process is stopping, it hands the chat id and message ids to :class:`Housekeeping`; while a
conversation runs, the erase journal (:mod:`bot.services.erase_journal`, the
:class:`handlers.ports.HousekeepingPort` of the running bot) stores them here as it goes, held
from this process's erase job (:meth:`Housekeeping.hold`) so that only a process started after
a hard stop erases them under a live conversation's feet. They are the only reporter
identifiers Sanad ever writes down, so they are written only as erase targets sealed with a
rotating server key (``crypto.seal_erase_target``, docs/crypto.md "Housekeeping"), in rows of the
``housekeeping`` table that link to no report and carry a deadline ``retention.housekeeping_hours``
ahead (at most 48 h: Telegram refuses deletions after that, so a longer one buys nothing). The
erase job (:mod:`bot.jobs.erase`) opens due rows and deletes the messages; the purge job
(:mod:`bot.jobs.purge`) drops rows past their deadline, erased or not, and destroys keys no row
needs any more.

**Where the keys live, and why there.** Each key is 32 random bytes in its own file,
``<state_dir>/secrets/housekeeping/<day>.key`` (directory 0700, files 0600, created with the
server secrets' permission checks), holding a random 31-bit *key version* and the key. One key
per UTC day seals every target of that day; a row names its key by version.

- Not in the database: a row and the key that opens it must not sit in the same place, or one
  stolen dump or backup would hold both. On PostgreSQL the database is usually another machine
  and its backups go elsewhere again; the key files never leave the bot's state directory.
- Random, not derived: a key derived from a long-lived seed (``housekeeping-seed``) could be
  derived again by whoever seizes the server later, and then open any old row that survived in a
  PostgreSQL dead tuple, a WAL archive or a backup. A random key that has been deleted cannot be
  recomputed: deleting it crypto-shreds every copy of its rows.
- Deleted as soon as nothing needs it: once no row names its version and its day is over (plus
  :data:`KEY_GRACE`, so a target sealed just before midnight and committed just after is never
  orphaned), the purge job overwrites the file with zeros, fsyncs and unlinks it. On a journaling
  or copy-on-write file system or an SSD the overwrite is best effort; the short life of the key
  (about three days at most) is the real protection.
- Versions are random rather than counted, so bot instances with separate state directories
  sharing one PostgreSQL database never confuse each other's keys: each opens only rows sealed
  with a version it holds, and leaves the others to their own instance (or to the purge).

Several instances on one PostgreSQL database (:mod:`bot.leadership`): only the leader writes
here, and every write checks its role inside its own transaction (a stale leader's epoch is
refused). They must share the housekeeping keys (docs/deploy.md, "Several instances"), so that a
successor opens what the dead leader sealed.

Nothing here logs a chat id or message id; only counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import stat
import struct
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Result

from bot.config import ConfigError
from bot.leadership.fence import SINGLE_INSTANCE, Role
from bot.logs import event, get_logger
from bot.runtime import Runtime
from bot.server_secrets import SECRETS_DIRNAME
from crypto.errors import CryptoError
from crypto.housekeeping import (
    MAX_MESSAGES,
    EraseTarget,
    HousekeepingKey,
    open_erase_target,
    seal_erase_target,
)
from storage.coarse_time import round_down, round_up
from storage.engine import Database
from storage.models import Housekeeping as HousekeepingRow
from storage.repositories import HousekeepingRepository

KEYS_DIRNAME = "housekeeping"
#: How long after the end of its day an unused key is kept (see the module docstring).
KEY_GRACE = dt.timedelta(hours=1)
_KEY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.key")
_VERSION = struct.Struct(">I")
_KEY_FILE_BYTES = _VERSION.size + 32

_log = get_logger("housekeeping")

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class HousekeepingKeyError(ConfigError):
    """A housekeeping key file cannot be used (the message says which and why)."""


@dataclass(frozen=True)
class DatedKey:
    """A housekeeping key with its version (named by rows) and the UTC day it seals for."""

    day: dt.date
    version: int
    key: HousekeepingKey


class HousekeepingKeyring:
    """The daily housekeeping keys of one state directory (see the module docstring).

    Safe for several processes sharing the directory: a day's key is created once (a fully
    written temporary file is linked into place, and whoever loses the race loads the winner's),
    and reading refuses a file that is not private to this user or has the wrong size.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def of_state_dir(cls, state_dir: Path) -> HousekeepingKeyring:
        """The keyring inside the server secrets directory of ``state_dir``."""
        return cls(state_dir / SECRETS_DIRNAME / KEYS_DIRNAME)

    def current(self, now: dt.datetime) -> DatedKey:
        """The key of ``now``'s UTC day, created if this day has none yet."""
        day = now.astimezone(dt.UTC).date()
        found = self._load(self._path(day))
        if found is not None:
            return found
        self._create(day)
        created = self._load(self._path(day))
        if created is None:  # deleted between the link and this read: nothing sane to do
            raise HousekeepingKeyError(f"the housekeeping key for {day} vanished while created")
        return created

    def present(self) -> list[DatedKey]:
        """Every key present, oldest day first."""
        if not self.directory.exists():
            return []
        self._check_private(self.directory, os.lstat(self.directory), directory=True)
        found = []
        for entry in sorted(os.listdir(self.directory)):
            if _KEY_FILE.fullmatch(entry):
                key = self._load(self.directory / entry)
                if key is not None:
                    found.append(key)
        return found

    def retire_unused(self, in_use: set[int], now: dt.datetime) -> int:
        """Destroy every key whose version is not in ``in_use`` and whose day is long over.

        "Long over" is :data:`KEY_GRACE` past the end of the key's UTC day; today's key is never
        destroyed. Returns how many keys were destroyed.
        """
        destroyed = 0
        for dated in self.present():
            end_of_day = dt.datetime.combine(dated.day + dt.timedelta(days=1), dt.time(), dt.UTC)
            if dated.version in in_use or now < end_of_day + KEY_GRACE:
                continue
            self._shred(self._path(dated.day))
            destroyed += 1
        return destroyed

    # -- files -----------------------------------------------------------------------------------

    def _path(self, day: dt.date) -> Path:
        return self.directory / f"{day.isoformat()}.key"

    def _ensure_directory(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, exist_ok=True)
        except FileNotFoundError:
            raise HousekeepingKeyError(
                f"the server secrets directory {self.directory.parent} does not exist",
                hint="start the bot once, or run `sanad check-config`, to create it",
            ) from None
        self._check_private(self.directory, os.lstat(self.directory), directory=True)

    def _create(self, day: dt.date) -> None:
        self._ensure_directory()
        # Versions are random (see the module docstring), positive and within the INTEGER
        # column of both backends; 0 is kept out so it never looks unset.
        version = 1 + secrets.randbelow(2**31 - 1)
        content = _VERSION.pack(version) + HousekeepingKey.generate().raw
        fd, temporary = tempfile.mkstemp(prefix=".key-", dir=self.directory)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            # link() never replaces: a concurrent creator's key for this day wins intact.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, self._path(day))
            _fsync_directory(self.directory)
        finally:
            os.unlink(temporary)

    def _load(self, path: Path) -> DatedKey | None:
        match = _KEY_FILE.fullmatch(path.name)
        if match is None:
            return None
        try:
            # O_NOFOLLOW: a symlink planted in place of a key is refused, not followed.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise HousekeepingKeyError(
                f"the housekeeping key {path} cannot be read ({exc.strerror or 'error'})"
            ) from None
        with os.fdopen(fd, "rb") as file:
            self._check_private(path, os.fstat(file.fileno()), directory=False)
            content = file.read(_KEY_FILE_BYTES + 1)
        if len(content) != _KEY_FILE_BYTES:
            raise HousekeepingKeyError(f"the housekeeping key {path} has the wrong size")
        (version,) = _VERSION.unpack_from(content)
        return DatedKey(
            dt.date.fromisoformat(match.group(1)),
            version,
            HousekeepingKey(content[_VERSION.size :]),
        )

    def _shred(self, path: Path) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:  # another process retired it first
            return
        try:
            os.write(fd, bytes(_KEY_FILE_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        _fsync_directory(self.directory)

    @staticmethod
    def _check_private(path: Path, info: os.stat_result, *, directory: bool) -> None:
        # The same rule as the other server secrets: owned by us, nobody else may look.
        kind_ok = stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)
        if not kind_ok or info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise HousekeepingKeyError(
                f"the housekeeping key {'directory' if directory else 'file'} {path} is not "
                "private to this user",
                hint=f"chmod {'700' if directory else '600'} {path}, and find out how it changed",
            )


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: A hold with no end: the rows wait for :meth:`Housekeeping.release` (or this process's end).
HELD = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class StoredTarget:
    """Message ids of one chat to seal into one row (at most 100); ``row_id`` to rewrite one."""

    chat_id: int
    message_ids: Sequence[int]
    row_id: int | None = None
    #: Ids of a conversation still open (the erase journal's): if another process erases the
    #: row, that conversation's draft died with the process that stored it.
    conversation: bool = False

    def __repr__(self) -> str:
        # I2: never the chat id, only the shape.
        return f"StoredTarget(<redacted>, {len(self.message_ids)} messages)"


def _rowcount(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class DueErasure:
    """A stored erase target, opened: the row to delete once Telegram has erased the messages."""

    row_id: int
    target: EraseTarget
    conversation: bool = False


# Telegram deletes a bot's or a user's message only while it is under 48 hours old.
TELEGRAM_DELETE_WINDOW = dt.timedelta(hours=48)
# I3: deadlines are stored on the hour, so a row does not say to the second when its
# conversation ended, and every conversation ending within one hour carries the same deadline.
DEADLINE_GRID = dt.timedelta(hours=1)


def erase_deadline(now: dt.datetime, retention: dt.timedelta) -> dt.datetime:
    """When a target kept at ``now`` is dropped: ``now + retention`` rounded up to the hour (I3).

    Rounded up, so no target is dropped before its promised retention, and kept at most an hour
    longer; but never rounded past Telegram's deletion window: with ``retention`` near 48 h the
    deadline is the last whole hour before ``now + 48 h``, so the erase job never holds ids it
    can no longer use (I2). Always strictly after ``now``, on the hour.
    """
    latest = round_down(now + TELEGRAM_DELETE_WINDOW - dt.timedelta(microseconds=1), DEADLINE_GRID)
    return min(round_up(now + retention, DEADLINE_GRID), latest)


class Housekeeping:
    """Sealed erase targets in the database: the bot's :class:`handlers.ports.HousekeepingPort`."""

    def __init__(
        self,
        db: Database,
        keyring: HousekeepingKeyring,
        *,
        retention: dt.timedelta,
        role: Role = SINGLE_INSTANCE,
        clock: Clock = _utc_now,
    ) -> None:
        if not dt.timedelta(0) < retention <= dt.timedelta(hours=48):
            # Telegram deletes only messages under 48 h old; longer keeps ids for nothing (I2).
            raise ValueError("housekeeping retention must be more than 0 and at most 48 hours")
        self._db = db
        self.keyring = keyring
        self._retention = retention
        self._role = role
        self._clock = clock
        # Rows this process stored and its erase job must leave alone until the time given
        # (see hold); memory only, so a restart forgets every hold.
        self._held: dict[int, dt.datetime] = {}

    @classmethod
    def from_runtime(cls, runtime: Runtime, role: Role = SINGLE_INSTANCE) -> Housekeeping:
        """The running bot's housekeeping: its database, state directory and retention; every
        write is checked against ``role`` in its own transaction (a stale leader's is refused)."""
        return cls(
            runtime.database,
            HousekeepingKeyring.of_state_dir(runtime.config.server.state_dir),
            retention=dt.timedelta(hours=runtime.config.retention.housekeeping_hours),
            role=role,
        )

    async def keep_for_erasure(
        self, chat_id: int, message_ids: Sequence[int], *, conversation: bool = False
    ) -> None:
        """Store ``message_ids`` of ``chat_id`` sealed, due now, dropped at the deadline; commits.

        One row per 100 ids (one ``deleteMessages`` call each), all in one transaction.
        ``conversation``: the ids of a conversation cut short, whose draft dies with this process
        (see :attr:`StoredTarget.conversation`).
        """
        if not message_ids:
            return
        chunks = [
            StoredTarget(chat_id, message_ids[start : start + MAX_MESSAGES], None, conversation)
            for start in range(0, len(message_ids), MAX_MESSAGES)
        ]
        await self.store(chunks)
        event(_log, "housekeeping.kept", rows=len(chunks), messages=len(message_ids))

    async def store(
        self, targets: Sequence[StoredTarget], *, hold_until: dt.datetime | None = None
    ) -> list[int]:
        """Seal and store ``targets`` in one transaction (commits); return their row ids in order.

        A target with a ``row_id`` rewrites that row in place (the same conversation's ids, now
        more of them; a fresh nonce, today's key and a new deadline), or makes a new row if that
        one is gone. With ``hold_until`` (:data:`HELD` for "until released") the rows are held:
        this process's erase job leaves them alone until then (see :meth:`hold`).
        """
        if not targets:
            return []
        now = self._clock()
        dated = self.keyring.current(now)
        values = [
            (target, seal_erase_target(dated.key, target.chat_id, target.message_ids))
            for target in targets
        ]
        deadline = erase_deadline(now, self._retention)
        stored: list[int] = []
        async with self._db.sessionmaker() as session, session.begin():
            await self._role.check(session)
            rows = HousekeepingRepository(session)
            for target, target_sealed in values:
                if target.row_id is not None:
                    rewritten = await session.execute(
                        update(HousekeepingRow)
                        .where(HousekeepingRow.id == target.row_id)
                        .values(
                            target_sealed=target_sealed,
                            key_version=dated.version,
                            deadline=deadline,
                            conversation=target.conversation,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    if _rowcount(rewritten) == 1:
                        stored.append(target.row_id)
                        continue
                stored.append(
                    await rows.add(
                        target_sealed=target_sealed,
                        key_version=dated.version,
                        deadline=deadline,
                        conversation=target.conversation,
                    )
                )
        # No await between the commit and the hold: an erase run of this process cannot see
        # these rows unheld (it filters what it read after its own await returns).
        if hold_until is not None:
            self.hold(stored, hold_until)
        return stored

    def hold(self, row_ids: Sequence[int], until: dt.datetime) -> None:
        """Keep this process's erase job off these rows until ``until`` (:data:`HELD`: until
        :meth:`release`).

        I7 across a hard stop: a live conversation's ids are stored as it goes, but must not be
        erased under the reporter while it runs. The hold lives in this process only, so a
        restarted process erases every row a dead one left, at its first erase run.
        """
        for row_id in row_ids:
            self._held[row_id] = until

    def release(self, row_ids: Sequence[int]) -> None:
        """End the hold on these rows: the next erase run erases them."""
        for row_id in row_ids:
            self._held.pop(row_id, None)

    async def due(self, limit: int, *, after: int = 0) -> tuple[list[DueErasure], int]:
        """Up to ``limit`` targets to erase now, in row id order, and how many rows could not open.

        Only rows after row id ``after`` (so a run moves past rows it leaves for later), sealed
        with a key of this keyring, not past their deadline and not held (:meth:`hold`) are
        considered. A row that does not open under its own key is damaged for good: it is
        deleted here and counted, rather than retried until its deadline.
        """
        keys = {dated.version: dated.key for dated in self.keyring.present()}
        if not keys:
            return [], 0
        now = self._clock()
        due: list[DueErasure] = []
        damaged: list[int] = []
        while len(due) < limit:
            async with self._db.sessionmaker() as session, session.begin():
                rows = (
                    await session.execute(
                        select(
                            HousekeepingRow.id,
                            HousekeepingRow.key_version,
                            HousekeepingRow.target_sealed,
                            HousekeepingRow.conversation,
                        )
                        .where(
                            HousekeepingRow.id > after,
                            HousekeepingRow.key_version.in_(keys),
                            HousekeepingRow.deadline > now,
                        )
                        .order_by(HousekeepingRow.id)
                        .limit(limit)
                    )
                ).all()
            for row_id, version, target_sealed, conversation in rows:
                after = row_id
                if self._held.get(row_id, now) > now:
                    continue  # a live conversation's, or not yet meant to go (see hold)
                self._held.pop(row_id, None)
                try:
                    target = open_erase_target(keys[version], target_sealed)
                    due.append(DueErasure(row_id, target, conversation))
                except CryptoError:
                    damaged.append(row_id)
                if len(due) == limit:
                    break
            if len(rows) < limit:
                break
        await self.forget(damaged)
        return due, len(damaged)

    async def forget(self, row_ids: Sequence[int]) -> None:
        """Delete these rows (erased, or beyond help, or no longer needed); commits."""
        if not row_ids:
            return
        self.release(row_ids)
        async with self._db.sessionmaker() as session, session.begin():
            await self._role.check(session)
            await session.execute(
                delete(HousekeepingRow)
                .where(HousekeepingRow.id.in_(list(row_ids)))
                .execution_options(synchronize_session=False)
            )

    async def retire_keys(self) -> int:
        """Destroy the keys no stored row needs any more; returns how many.

        For the purge job, after it has dropped the rows past their deadline (see
        :meth:`HousekeepingKeyring.retire_unused`).
        """
        versions = select(HousekeepingRow.key_version).distinct()
        async with self._db.sessionmaker() as session, session.begin():
            in_use = set((await session.scalars(versions)).all())
        return self.keyring.retire_unused(in_use, self._clock())
