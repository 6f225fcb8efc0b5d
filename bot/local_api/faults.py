"""Malformed traffic: answers the local server spoils on purpose, and updates no client sent.

:mod:`bot.local_api.limits` makes calls fail the way Telegram refuses them (429, 500, 403, no
answer). This module makes them fail the way a network or a buggy server does — the bytes of an
answer cut short, a connection reset, an answer that comes late, a ``getUpdates`` batch far
over Telegram's hundred — and puts updates in a bot's queue that no Telegram client would
produce: unknown update types, messages missing the fields every message has. A bot must read
what it can, skip the rest and keep going (DESIGN.md §7); the reliability tests hold it to that.

Use it through the server's ``traffic`` attribute::

    api.traffic.spoil("getUpdates", Spoil.truncated(), Spoil.reset())
    api.traffic.push_raw_update(token, {"message": {"message_id": 1}})  # no chat, no date
"""

from __future__ import annotations

import asyncio
import enum
import json
import random
import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tornado.web import RequestHandler

from bot.local_api.limits import Fault
from bot.local_api.state import BotState, World


class SpoilKind(enum.Enum):
    """How an answer is spoilt."""

    TRUNCATED = "truncated"  # the JSON body cut in the middle, then the connection closed
    RESET = "reset"  # the connection closed with no answer at all
    SLOW = "slow"  # the right answer, after a delay
    OVERSIZED_BATCH = "oversized_batch"  # getUpdates answers every pending update at once


@dataclass(frozen=True, slots=True)
class Spoil:
    """One spoilt answer; build it with the class methods."""

    kind: SpoilKind
    delay: float = 0.0

    @classmethod
    def truncated(cls) -> Spoil:
        """Send the first half of the answer's JSON, then close: the method did run."""
        return cls(SpoilKind.TRUNCATED)

    @classmethod
    def reset(cls) -> Spoil:
        """Close the connection before anything is run or answered."""
        return cls(SpoilKind.RESET)

    @classmethod
    def slow(cls, seconds: float) -> Spoil:
        """Run the method, then wait ``seconds`` before answering."""
        if seconds <= 0:
            raise ValueError("a slow answer waits a positive time")
        return cls(SpoilKind.SLOW, delay=seconds)

    @classmethod
    def oversized_batch(cls) -> Spoil:
        """``getUpdates`` only: every pending update in one answer, ignoring ``limit``."""
        return cls(SpoilKind.OVERSIZED_BATCH)


class TrafficFaults:
    """Per method, the spoilt answers still to give, in order; then answers are sound again."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._planned: dict[str, list[Spoil]] = {}
        self.spoilt = 0  # answers spoilt so far, for assertions

    def spoil(self, method: str, *spoils: Spoil) -> None:
        """Spoil the next calls of ``method`` (Bot API name, any case), one per item."""
        self._planned.setdefault(method.lower(), []).extend(spoils)

    def clear(self) -> None:
        """Spoil nothing more."""
        self._planned.clear()

    def next_spoil(self, method: str) -> Spoil | None:
        """The spoil for this call of ``method``, if one is planned; consumes it."""
        planned = self._planned.get(method.lower())
        if not planned:
            return None
        self.spoilt += 1
        return planned.pop(0)

    def push_raw_update(self, token: str, body: Mapping[str, Any]) -> int:
        """Queue ``{"update_id": N, **body}`` for the bot ``token`` as it is; returns N.

        No check is made: ``body`` may name an update type Telegram does not have, or be a
        message without the fields Telegram always sends. ``allowed_updates`` is not applied
        (a server that sends garbage does not honour it either).
        """
        bot = self._world.bots[token]
        update_id = bot.next_update_id
        bot.pending.append({**body, "update_id": update_id})
        bot.next_update_id += 1
        bot.updates_changed.notify()
        return update_id


def reset_connection(handler: RequestHandler) -> None:
    """Close the request's connection at once, with a TCP reset rather than an orderly close."""
    stream = handler.request.connection.stream  # type: ignore[union-attr]
    if stream.socket is not None:
        # SO_LINGER with a zero timeout: close() sends RST, as a dropped middlebox would.
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.close()


async def answer_spoilt(
    handler: RequestHandler, spoil: Spoil, result: Any, bot: BotState
) -> None:
    """Finish ``handler``, whose method returned ``result`` for ``bot``, spoilt by ``spoil``."""
    if spoil.kind is SpoilKind.RESET:
        reset_connection(handler)
        return
    if spoil.kind is SpoilKind.SLOW:
        await asyncio.sleep(spoil.delay)
    if spoil.kind is SpoilKind.OVERSIZED_BATCH:
        result = list(bot.pending)
    text = json.dumps({"ok": True, "result": result}, ensure_ascii=False)
    if spoil.kind is SpoilKind.TRUNCATED:
        # A complete HTTP answer whose JSON stops half-way: the reader gets every byte sent.
        text = text[: len(text) // 2]
    handler.set_status(200)
    handler.set_header("Content-Type", "application/json")
    handler.finish(text)


def failing_share(
    share: float, faults: Sequence[Fault], length: int, seed: int
) -> list[Fault | None]:
    """A reproducible sequence for :meth:`FaultInjector.inject`: each call fails with
    probability ``share``, with one of ``faults`` drawn at random (a mix one plan cannot give)."""
    draw = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets # nosec B311
    return [draw.choice(faults) if draw.random() < share else None for _ in range(length)]
