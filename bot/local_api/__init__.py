"""A local, in-memory Telegram Bot API server: Sanad's one test double and ``sanad try``'s engine.

Public API:

- :class:`LocalBotApi` — the server (``running()`` for in-loop use, ``in_thread()`` for a
  background thread), with ``add_bot``, ``open_chat``, ``faults``, ``rate_limits``, ``clock``.
- :class:`UserChat`, :class:`ChatMessage`, :class:`Button`, :class:`Attachment` — acting as a
  user and seeing the chat as they see it.
- :func:`bot.local_api.ptb.application_builder`, :func:`bot.local_api.ptb.polling` — PTB
  pointed at the server, polling with short intervals and a clean stop.
- :class:`AdjustableClock` — move time forward (e.g. past the 48-hour deletion window).
- :class:`Fault`, :class:`RateLimits` — refusals on purpose.

Run ``python -m bot.local_api --port N --token T`` to serve it by hand.
"""

from bot.local_api.clock import AdjustableClock, Clock, SystemClock
from bot.local_api.errors import LocalApiUsageError
from bot.local_api.limits import Fault, FaultKind, RateLimits
from bot.local_api.server import LocalBotApi, LocalBotApiThread
from bot.local_api.user import Attachment, Button, ChatMessage, UserChat

__all__ = [
    "AdjustableClock",
    "Attachment",
    "Button",
    "ChatMessage",
    "Clock",
    "Fault",
    "FaultKind",
    "LocalApiUsageError",
    "LocalBotApi",
    "LocalBotApiThread",
    "RateLimits",
    "SystemClock",
    "UserChat",
]
