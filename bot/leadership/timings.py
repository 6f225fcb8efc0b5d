"""How fast a takeover goes, every delay derived from one setting: ``[ha] takeover_seconds``.

With T the configured takeover time (15 s by default):

- a standby tries the lock every T/5 (:attr:`Timings.retry`);
- the leader checks its lock connection every T/5, each check bounded by T/5
  (:attr:`Timings.heartbeat`): a leader cut off from the database knows within 2T/5 (6 s);
- the database server probes an idle leader connection after T/5 and every T/10, three times
  (``tcp_keepalives_*``), and gives up on unacknowledged data after T/2 (``tcp_user_timeout``):
  the lock of a leader whose machine died silently is freed within T/2 (7.5 s) — after the
  leader itself stopped receiving, if it is alive but cut off;
- a standby then holds the lock within T/5 more, and bumps the epoch T/20 later (the grace in
  which a leader whose session the server ended, and which sees that at once, stops first):
  about 0.75 T (11 s) in the worst case, under T. A leader killed on a running machine loses
  its connection at once (the kernel closes it), so the takeover is then at most T/5 + T/20
  plus the erase run (``bench/failover.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The default of ``[ha] takeover_seconds``.
DEFAULT_TAKEOVER_SECONDS = 15.0


@dataclass(frozen=True)
class Timings:
    """The delays of leadership for a takeover time ``takeover`` (seconds)."""

    takeover: float = DEFAULT_TAKEOVER_SECONDS

    @property
    def retry(self) -> float:
        return self.takeover / 5

    @property
    def heartbeat(self) -> float:
        return self.takeover / 5

    @property
    def grace(self) -> float:
        """How long a standby that won the lock waits before bumping the epoch: the leader whose
        session was ended sees it at once, and is gone by then."""
        return self.takeover / 20

    def server_settings(self) -> dict[str, str]:
        """PostgreSQL session settings for the lock connection (whole seconds, at least 1)."""
        return {
            "tcp_keepalives_idle": str(max(1, round(self.takeover / 5))),
            "tcp_keepalives_interval": str(max(1, round(self.takeover / 10))),
            "tcp_keepalives_count": "3",
            "tcp_user_timeout": str(int(self.takeover * 1000 / 2)),
        }
