"""Opening the database: one URL chooses SQLite (embedded default) or PostgreSQL (DESIGN.md §5).

``open_database(url)`` returns a :class:`Database`: the async engine and a session factory with
``expire_on_commit=False``. The same models, queries and migrations run on both backends.

SQLite is set up for Sanad's invariants on every new connection, not once per file, because
PRAGMAs other than ``journal_mode`` are per connection:

- ``secure_delete=ON`` so deleted rows are overwritten with zeros (I6);
- ``foreign_keys=ON`` so deleting a report really cascades to its bodies and wraps;
- WAL with ``synchronous=FULL`` so a committed report survives power loss, not only a crash (I8);
- a busy timeout so concurrent writers wait instead of failing;
- ``temp_store=MEMORY`` so sorts and VACUUM do not spill sealed pages into temporary files.

Sanad issues ``BEGIN IMMEDIATE`` itself rather than letting the sqlite3 driver defer it: a
transaction that reads and then writes would otherwise fail with SQLITE_BUSY when another writer
committed in between, and SQLite allows one writer at a time anyway.

The file and its directory are created owner-only (0600 / 0700) before SQLite opens them. SQLite
creates ``-wal`` and ``-shm`` with the permissions of the database file itself, so they follow.

:class:`GroupCommit` lets many tasks' small writes share one transaction, and so one fsync: see
its docstring, and ``storage.reports`` for why reports are written that way. Those transactions
go through :meth:`Database.run_write_transaction`, which on SQLite uses a second, synchronous
engine on the same file (``sqlite_writer``), set up by the same two listeners as the async one.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import errno
import os
import sqlite3
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from storage.audit import SEAL_INFO_KEY
from storage.errors import DatabaseUnavailable, StorageError, UnsupportedDatabase

if TYPE_CHECKING:
    from storage.audit import AuditSeal

SQLITE_BUSY_TIMEOUT_MS = 10_000
GROUP_COMMIT_MAX_BATCH = 64

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA temp_store=MEMORY",
)


class Backend(enum.StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


T = TypeVar("T")
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

WriteBatch = Callable[[Connection, Sequence[ItemT]], Sequence[ResultT]]
"""Writes a batch of items on a connection inside an open transaction and returns one result per
item, in order; it must not commit (the group commit does) and must be correct for one item."""


class GroupCommit(Generic[ItemT, ResultT]):
    """Concurrent writes of one kind, coalesced into shared transactions by a single writer task.

    :meth:`submit` queues an item and returns its result only after the transaction holding it
    has committed, so a caller may act on the result exactly as if it had committed alone (I8).
    The writer takes every queued item (at most ``max_batch``), writes them with ``write_batch``
    in one transaction and commits once: on SQLite one fsync then covers the whole batch instead
    of one each. It never waits for company: items arriving while a commit is in flight form the
    next batch, so batches grow with the load by themselves and a lone item goes straight
    through. (A 2 ms wait for more items was measured: on a loaded machine the timer overshoots,
    and a lone report took 12 ms instead of 4 with no gain at 16 concurrent submitters.)

    If the shared transaction fails, nothing of it is kept and every item is written again in a
    transaction of its own, so a bad item fails only its own caller (with its own exception) and
    the others succeed. An item whose caller was cancelled before its batch began is skipped.

    The writer task exists only while items are queued, so an idle database holds no task and
    nothing outlives its event loop. A writer stopped mid-batch (cancelled) fails the items it
    held and those still queued with :class:`StorageError`: their transaction may or may not have
    committed, and a caller told "failed" about a committed write loses nothing, whereas the
    reverse would break I8.
    """

    def __init__(
        self,
        database: Database,
        write_batch: WriteBatch[ItemT, ResultT],
        *,
        max_batch: int = GROUP_COMMIT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("a group commit needs max_batch >= 1")
        self._database = database
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._queue: collections.deque[tuple[ItemT, asyncio.Future[ResultT]]] = collections.deque()
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: ItemT) -> ResultT:
        """Write ``item`` in the next shared transaction; return its result once committed.

        Raises what ``write_batch`` raised for this item written alone, or
        :class:`StorageError` if the writer was stopped while holding it.
        """
        loop = asyncio.get_running_loop()
        result: asyncio.Future[ResultT] = loop.create_future()
        self._queue.append((item, result))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain())
        return await result

    async def wait_idle(self) -> None:
        """Return once every item queued so far is written or has failed."""
        # A finished writer may belong to an event loop that is gone: never touch it then.
        if self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])

    async def _drain(self) -> None:
        # Runs until the queue is empty; between the emptiness check and returning nothing can
        # interleave, so a submit either finds this task still running or starts a new one.
        batch: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        try:
            while self._queue:
                taken = min(self._max_batch, len(self._queue))
                batch = [self._queue.popleft() for _ in range(taken)]
                await self._commit_batch([entry for entry in batch if not entry[1].done()])
                batch = []
        except BaseException:
            # Cancelled at shutdown (or a bug): no caller may be left waiting forever.
            stopped = StorageError("the database writer stopped")
            for _, result in [*batch, *self._queue]:
                _settle(result, stopped)
            self._queue.clear()
            raise

    async def _commit_batch(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        if not batch:
            return
        try:
            results = await self._write_committed([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            # Which item broke the shared transaction is unknown: each one again on its own.
            for item, result in batch:
                try:
                    [alone] = await self._write_committed([item])
                except Exception as item_exc:
                    _settle(result, item_exc)
                else:
                    _settle(result, alone)
            return
        # Only here has the commit returned: now callers may show receipts (I8).
        for (_, result), value in zip(batch, results, strict=True):
            _settle(result, value)

    async def _write_committed(self, items: list[ItemT]) -> Sequence[ResultT]:
        return await self._database.run_write_transaction(
            lambda connection: self._write_batch(connection, items)
        )


def _settle(result: asyncio.Future[ResultT], outcome: ResultT | Exception) -> None:
    if result.done():  # the caller was cancelled while its batch was being written
        return
    if isinstance(outcome, Exception):
        result.set_exception(outcome)
    else:
        result.set_result(outcome)


@dataclass(frozen=True, eq=False)
class Database:
    """An open database: the engine, a session factory, and which backend it is.

    Use one session per unit of work (``async with db.sessionmaker() as s, s.begin(): ...``) and
    never share a session between tasks. On SQLite every transaction takes the write lock at
    BEGIN, so a task must not hold two sessions at once: the second would wait on the first.
    """

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    backend: Backend
    sqlite_path: Path | None = None
    # SQLite only: a synchronous engine on the same file for run_write_transaction.
    sqlite_writer: Engine | None = None
    _group_commits: dict[Hashable, GroupCommit[Any, Any]] = field(default_factory=dict, repr=False)

    def group_commit(self, write_batch: WriteBatch[ItemT, ResultT]) -> GroupCommit[ItemT, ResultT]:
        """This database's one :class:`GroupCommit` for ``write_batch`` (made on first use).

        One per writing function, so every caller of that function shares its transactions.
        """
        committer = self._group_commits.get(write_batch)
        if committer is None:
            committer = GroupCommit(self, write_batch)
            self._group_commits[write_batch] = committer
        return committer

    def install_audit_seal(self, seal: AuditSeal) -> None:
        """Sign every audit entry appended through this database's sessions with ``seal``.

        The bot and the admin commands install the bot's seal (``bot.audit_head``) right after
        opening the database, before any session exists: ``storage.audit`` finds it in each
        session's ``info``, so callers of ``audit.append`` pass nothing (see its docstring).
        """
        self.sessionmaker.configure(info={SEAL_INFO_KEY: seal})

    async def run_write_transaction(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction of its own, commit, and return its result.

        ``work`` is synchronous and gets a Core :class:`Connection`; it must not commit. Returns
        only after the commit has returned; if ``work`` raises, nothing of it is kept. On SQLite
        the whole transaction runs in one worker thread on a connection of ``sqlite_writer``
        (set up like every other connection, ``BEGIN IMMEDIATE`` included): a single hop off the
        event loop instead of one hop to aiosqlite's thread per statement, each of which costs a
        thread wake-up on a loaded machine. On PostgreSQL it runs on the async engine through
        ``run_sync``, with the same SQL.
        """
        if self.sqlite_writer is not None:
            return await asyncio.to_thread(_run_in_transaction, self.sqlite_writer, work)
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)

    async def close(self) -> None:
        """Finish queued group-committed writes, then close every pooled connection.

        The object must not be used afterwards.
        """
        for committer in self._group_commits.values():
            await committer.wait_idle()
        if self.sqlite_writer is not None:
            self.sqlite_writer.dispose()
        await self.engine.dispose()

    async def run_outside_transaction(self, sql: str) -> Sequence[Any] | None:
        """Run one maintenance statement in autocommit mode and return its first row, if any.

        For statements that refuse to run inside a transaction (``VACUUM``, SQLite's
        ``wal_checkpoint``). The statement goes to the driver connection directly, because
        switching a pooled connection to SQLAlchemy's AUTOCOMMIT level and back would re-enable
        the sqlite3 driver's own transaction handling that this module turns off. Raises
        :class:`StorageError` if the database refuses it.
        """
        try:
            async with self.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                if self.backend is Backend.SQLITE:
                    cursor = await driver.execute(sql)
                    row: Sequence[Any] | None = await cursor.fetchone()
                    await cursor.close()
                    return row
                return await driver.fetchrow(sql)  # type: ignore[no-any-return]
        except (OSError, sqlite3.Error, asyncpg.PostgresError, SQLAlchemyError) as exc:
            raise StorageError("a database maintenance statement was refused") from exc


def _run_in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.begin() as connection:
        return work(connection)


def _normalise(url: str | URL) -> tuple[URL, Backend]:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UnsupportedDatabase("the database URL cannot be parsed") from exc
    backend_name = parsed.get_backend_name()
    if backend_name == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # I8: an in-memory database would lose every committed report on exit.
            raise UnsupportedDatabase("a SQLite database URL must name a file")
        return parsed.set(drivername="sqlite+aiosqlite"), Backend.SQLITE
    if backend_name == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg"), Backend.POSTGRESQL
    raise UnsupportedDatabase("the database URL must start with sqlite:// or postgresql://")


def _prepare_sqlite_file(path: Path) -> None:
    """Create the directory (0700) and the database file (0600) before SQLite does."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # An existing file made under a looser umask is tightened too: SQLite copies these
        # permissions onto -wal and -shm when it (re)creates them.
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            sidecar.chmod(0o600)


def _configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take BEGIN away from the driver; _begin_immediate below issues it (see module docstring).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


# -- failures, as a person can act on them ---------------------------------------------------------
# The driver's own text quotes SQL, values and (for PostgreSQL) possibly the password in a DSN:
# these messages are fixed and name only the folder, or the host, port and database name.

_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_UNWRITABLE_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.ENOENT}
)
_UNWRITABLE_SQLITE_CODES = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
)
# SQLSTATE classes: 28 invalid authorisation, 3D no such database, 42501 insufficient privilege,
# 57P03 the server is starting or shutting down.
_REFUSING_SQLSTATES = ("28", "3D", "42501", "57P03")
_DISK_FULL_SQLSTATE = "53100"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: ``raise ... from``, SQLAlchemy's ``orig``, implicit context."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = (
            current.__cause__
            or (orig if isinstance(orig, BaseException) else None)
            or current.__context__
        )


def _is_disk_full(cause: BaseException) -> bool:
    if isinstance(cause, OSError):
        return cause.errno in _DISK_FULL_ERRNOS
    if isinstance(cause, sqlite3.Error):
        return getattr(cause, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL
    return getattr(cause, "sqlstate", None) == _DISK_FULL_SQLSTATE


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it wraps, says the database's disk is full (ENOSPC,
    SQLITE_FULL, PostgreSQL's disk-full SQLSTATE)."""
    return any(_is_disk_full(cause) for cause in _causes(exc))


def _sqlite_failure(path: Path, causes: list[BaseException]) -> DatabaseUnavailable | None:
    folder = path.parent
    if any(_is_disk_full(cause) for cause in causes):
        return DatabaseUnavailable(
            f"the disk holding the database folder {folder} is full",
            hint="free space on that disk, then run the command again",
        )
    for cause in causes:
        unwritable = (isinstance(cause, OSError) and cause.errno in _UNWRITABLE_ERRNOS) or (
            isinstance(cause, sqlite3.Error)
            and getattr(cause, "sqlite_errorcode", 0) & 0xFF in _UNWRITABLE_SQLITE_CODES
        )
        if unwritable:
            return DatabaseUnavailable(
                f"the database folder {folder} is not writable",
                hint="make it a folder the user running sanad can write to, "
                "or point database.url at one",
            )
    return None


def _postgres_failure(url: URL, causes: list[BaseException]) -> DatabaseUnavailable | None:
    where = f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}"
    database = url.database or "(the user's default)"
    if any(_is_disk_full(cause) for cause in causes):
        return DatabaseUnavailable(
            f"{where} has no disk space left for database {database}",
            hint="free space on the database server, then run the command again",
        )
    for cause in causes:
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_REFUSING_SQLSTATES):
            return DatabaseUnavailable(
                f"{where} refused the connection to database {database}",
                hint="check the user, password and database name in database.url",
            )
    if any(isinstance(cause, OSError) for cause in causes):  # refused, unknown host, timeout
        return DatabaseUnavailable(
            f"{where} cannot be reached (database {database})",
            hint="check that PostgreSQL is running and that database.url names its host and port",
        )
    return None


def explain_failure(url: str | URL, exc: BaseException) -> DatabaseUnavailable | None:
    """A one-line :class:`DatabaseUnavailable` saying why the database at ``url`` failed, or None.

    Recognised, from ``exc`` and the exceptions it wraps: a full disk; for SQLite, a database
    folder that cannot be written (read-only, missing, a file where a folder should be); for
    PostgreSQL, a server that cannot be reached or that refuses the user, password or database.
    The message names the SQLite folder, or PostgreSQL's host, port and database: never the
    password or the driver's text. None when the failure is none of these, for the caller's own
    wording.
    """
    parsed, backend = _normalise(url)
    causes = list(_causes(exc))
    if backend is Backend.SQLITE:
        return _sqlite_failure(Path(parsed.database or "").absolute(), causes)
    return _postgres_failure(parsed, causes)


def open_database(url: str, *, connect_args: Mapping[str, Any] | None = None) -> Database:
    """Open the database named by ``url`` (``sqlite:///path`` or ``postgresql://...``).

    The plain scheme is enough: the async driver (aiosqlite, asyncpg) is chosen here. For SQLite
    the file and its directory are created owner-only if missing. ``connect_args`` go to the
    driver unchanged (tests use it to give each PostgreSQL run its own ``search_path``). Nothing
    connects until first use; raises :class:`UnsupportedDatabase` for any other URL, and
    :class:`DatabaseUnavailable` (see :func:`explain_failure`) when the SQLite file cannot be
    made.
    """
    parsed, backend = _normalise(url)
    kwargs: dict[str, Any] = {"connect_args": dict(connect_args or {})}
    sqlite_path: Path | None = None
    if backend is Backend.SQLITE:
        sqlite_path = Path(parsed.database or "").absolute()  # never empty: see _normalise
        try:
            _prepare_sqlite_file(sqlite_path)
        except OSError as exc:
            raise (
                explain_failure(parsed, exc)
                or DatabaseUnavailable(f"the database file {sqlite_path} cannot be created")
            ) from exc
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(parsed, **kwargs)
    sqlite_writer: Engine | None = None
    if backend is Backend.SQLITE:
        # Worker threads take turns with its pooled connections, one thread at a time each.
        sqlite_writer = create_engine(
            parsed.set(drivername="sqlite+pysqlite"),
            connect_args={**kwargs["connect_args"], "check_same_thread": False},
        )
        for sync_engine in (engine.sync_engine, sqlite_writer):
            event.listen(sync_engine, "connect", _configure_sqlite_connection)
            event.listen(sync_engine, "begin", _begin_immediate)
    return Database(
        engine=engine,
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
        backend=backend,
        sqlite_path=sqlite_path,
        sqlite_writer=sqlite_writer,
    )
