"""Deliveries claimed by an instance that is gone: released by the leader at once (I8).

Every instance delivers from the outbox, claiming rows under its registered name
(``storage.outbox``) and only while the registry lists it. An instance killed while it holds a
claim (sending a file, or waiting on Telegram) would otherwise keep the row until the claim's lease
runs out, ten minutes. The leader releases such claims:

- at the takeover, before it receives updates: the previous leader's claims (named in the epoch's
  row it replaced, since its session may still be ending) and those of every instance no longer
  listed — a whole deployment killed and started again included;
- at each heartbeat of its lock connection, in the background: a standby that died is unlisted
  as soon as its session ends, and its claims come back within one heartbeat.

Each release is one transaction fenced by the leader's epoch (``LeaderFence.check``), as the
erase and purge writes are: a leader that lost its lock releases nothing. It repeats no file that
the claim's lapse would not have repeated: the row goes back as it was claimed, due at once, its
attempts unchanged; a file the dead instance had sent without recording it goes again (I8's one
repeat, recognisable by case reference and sequence).
"""

from __future__ import annotations

import asyncio
import logging

from bot.leadership.fence import LeaderFence
from bot.logs import event, get_logger
from storage import outbox

_log = get_logger("leadership")


class AbsentClaims:
    """The leader's release of claims held by instances that are gone."""

    def __init__(self, fence: LeaderFence) -> None:
        self._fence = fence
        self._running: asyncio.Task[None] | None = None

    async def release(self) -> None:
        """Release them now (a takeover task); a failure is logged and left to the next try."""
        try:
            async with self._fence.database.sessionmaker() as session, session.begin():
                await self._fence.check(session)
                released = await outbox.release_absent_claims(
                    session, previous_leader=self._fence.previous_leader
                )
        except Exception as exc:  # the next heartbeat tries again
            event(_log, f"leader.claims_release_failed.{type(exc).__name__}", logging.WARNING)
            return
        if released:
            event(_log, "leader.claims_released", count=released)

    def at_heartbeat(self) -> None:
        """Start a release in the background unless one is still running (the heartbeat does
        not wait on it: its own bound is the lock connection's)."""
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self.release())
