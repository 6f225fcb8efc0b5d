"""Several ``sanad run`` on one PostgreSQL database: one leader, standbys that take over.

Active/active cannot work: python-telegram-bot keeps conversation state in one process, and
drafts live in memory only by design (I1). So exactly one instance leads — it holds a
session-level advisory lock on a connection of its own (:mod:`.connection`), receives updates and
runs the once-only jobs (erase, purge, key retirement) — and the others stand by, claiming
outbox deliveries only (the claim protocol makes that safe).

- :mod:`.fence`: the process's role, asked by the once-only jobs and checked, with the leader's
  epoch, inside housekeeping's and the purge's own transactions (a stale epoch is refused).
- :mod:`.elector`: standing by, winning the lock and bumping the epoch, noticing the loss.
- :mod:`.serve`: ``sanad run`` on PostgreSQL; the takeover erases what the dead leader left,
  then receives; a lost leadership ends the process at once.
- :mod:`.updates`: every update is taken once, by the leader (ids recorded, de-duplicated).
- :mod:`.lost_drafts`: whose draft died with the previous leader, so they can be told.
- :mod:`.claims`: outbox claims of instances that are gone, released by the leader at once.
- :mod:`.timings`: every delay derived from ``[ha] takeover_seconds``.

SQLite deployments run one process (``bot.instance_lock``), whose role is
:data:`.fence.SINGLE_INSTANCE`.
"""
