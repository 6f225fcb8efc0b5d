"""Who may act alone: the role of this process, checked where it writes (DESIGN.md §6).

A :class:`Role` answers three questions for the features that must not run twice:

- :meth:`Role.leading`: may the once-only jobs (erase, purge, key retirement) run now?
- :meth:`Role.check`: inside a write's own transaction, is this process still the leader? A
  refused write raises :class:`storage.leadership.StaleEpoch` and rolls back with it.
- :meth:`Role.take_update`: may this process handle this update (it has not been handled)?
- :attr:`Role.registered_name`, :meth:`Role.registered`: the name this process's outbox claims
  carry, and whether the leadership registry lists it now (``storage.outbox``): an instance
  claims and sends only while listed, so a leader may take an unlisted owner's claims for dead.

:data:`SINGLE_INSTANCE` is the role of a process alone with its database (SQLite, which one
process holds at a time, ``bot.instance_lock``; and tests): it always leads and checks nothing.
:class:`LeaderFence` is the role of an instance among several on PostgreSQL: it leads only
between winning the lock (:meth:`LeaderFence.lead`) and losing it, and every check carries its
epoch to the database (:mod:`storage.leadership`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.logs import event, get_logger
from storage.engine import Database
from storage.leadership import StaleEpoch, check_epoch, take_update

_log = get_logger("leadership")

Takeover = Callable[[], Awaitable[object]]


def instance_name() -> str:
    """A random name for this process, shown by ``sanad admin status`` and carried by its outbox
    claims: nothing about the machine, and a new one at every start."""
    return f"instance-{secrets.token_hex(3)}"


class Role(Protocol):
    """What a feature asks before acting alone (see the module docstring)."""

    @property
    def registered_name(self) -> str | None: ...

    def registered(self) -> bool: ...

    def leading(self) -> bool: ...

    async def check(self, session: AsyncSession) -> None: ...

    async def take_update(self, update_id: int) -> bool: ...

    def at_takeover(self, task: Takeover) -> None: ...


class _SingleInstance:
    """A process alone with its database: always the leader, nothing to check."""

    @property
    def registered_name(self) -> None:
        """None: there is no registry; a worker claims under a random token of its own."""

    def registered(self) -> bool:
        return True

    def leading(self) -> bool:
        return True

    async def check(self, session: AsyncSession) -> None:
        """Nothing: no other process writes."""

    async def take_update(self, update_id: int) -> bool:
        return True

    def at_takeover(self, task: Takeover) -> None:
        """Nothing to do: there is no takeover; the erase job's first run after start erases
        what a previous process left (``bot.jobs.erase``)."""


SINGLE_INSTANCE: Role = _SingleInstance()


class LeaderFence:
    """The role of one instance among several on PostgreSQL (``bot.leadership.elector``).

    Standby until :meth:`lead` gives it an epoch; from :meth:`lose` on (or once the database
    refuses its epoch) it leads no more, for the rest of the process: no update is taken and no
    once-only job runs, at once, whatever the rest of the process is still doing.
    """

    def __init__(self, database: Database, name: str | None = None) -> None:
        """``name`` is this instance's registered name, drawn at random when not given."""
        self._database = database
        self.name = name or instance_name()
        #: The instance that led before this one took over (None before, or if none had).
        self.previous_leader: str | None = None
        # Set when the lock connection (this instance's entry in the registry) ends.
        self._unregistered: asyncio.Event | None = None
        self._epoch: int | None = None
        self._lost = False
        self._takeover: list[Takeover] = []
        self._on_lost: Callable[[], object] = lambda: None

    @property
    def database(self) -> Database:
        """The database this instance's fenced writes go to."""
        return self._database

    @property
    def epoch(self) -> int | None:
        """The epoch this instance leads under, or None while standing by."""
        return self._epoch

    @property
    def registered_name(self) -> str:
        return self.name

    def registered(self) -> bool:
        """Whether this instance's lock connection is open, so the registry lists it."""
        return self._unregistered is not None and not self._unregistered.is_set()

    def registered_until(self, ended: asyncio.Event | None) -> None:
        """This instance is listed from now until ``ended`` is set (its lock connection's
        ``closed``); None: not listed (no lock connection)."""
        self._unregistered = ended

    def leading(self) -> bool:
        return self._epoch is not None and not self._lost

    def lead(self, epoch: int, previous_leader: str | None = None) -> None:
        """This instance won the lock and bumped the epoch to ``epoch``, taking over from
        ``previous_leader``."""
        if self._lost:
            raise RuntimeError("a fence that lost its leadership never leads again")
        self._epoch = epoch
        self.previous_leader = previous_leader

    def lose(self) -> None:
        """Leadership is gone (the lock's connection died, or a successor's epoch was seen)."""
        if not self._lost:
            self._lost = True
            self._on_lost()

    def on_lost(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once, when leadership is lost."""
        self._on_lost = callback

    def at_takeover(self, task: Takeover) -> None:
        """Run ``task`` after winning the lock, before any update is received."""
        self._takeover.append(task)

    async def take_over(self) -> None:
        """Run the takeover tasks in order; one that fails is logged and the next runs."""
        for task in self._takeover:
            try:
                await task()
            except Exception as exc:
                event(_log, f"leader.takeover_task_failed.{type(exc).__name__}", logging.WARNING)

    async def check(self, session: AsyncSession) -> None:
        """Raise :class:`StaleEpoch` unless this instance leads under the epoch in force."""
        if self._epoch is None or self._lost:
            raise StaleEpoch("this instance does not lead: the write was refused")
        try:
            await check_epoch(session, self._epoch)
        except StaleEpoch:
            self.lose()
            raise

    async def take_update(self, update_id: int) -> bool:
        """True if this instance leads and no leader has taken ``update_id`` yet (recorded now)."""
        if self._epoch is None or self._lost:
            return False
        try:
            async with self._database.sessionmaker() as session, session.begin():
                return await take_update(session, update_id, self._epoch)
        except StaleEpoch:
            self.lose()
            return False
