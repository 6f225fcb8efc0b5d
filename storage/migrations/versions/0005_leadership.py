"""One leader among several ``sanad run`` instances on PostgreSQL: its epoch, and recent updates.

Why: on PostgreSQL any number of bot processes may share the database; one leads (it receives
updates and runs the once-only jobs) and the others stand by (DESIGN.md §6, docs/deploy.md).

- ``leadership``: one row. ``epoch`` is the fencing token every new leader increments; the
  once-only jobs and housekeeping writes check it inside their own transaction, so a leader that
  lost its lock without noticing cannot act after a successor started. ``leader`` is the random
  name of the instance that bumped it last, ``since`` when (to the minute: it says when the
  service changed hands, nothing about any report). The key is a fixed word, not a number, so
  no integer id that could count anything is stored.
- ``recent_updates``: the ids of the updates the leaders have taken up, and nothing else, so an
  update Telegram hands again to a new leader after a takeover is not handled twice. The table
  is kept to the most recent few thousand ids (``storage.leadership``).
- ``housekeeping.conversation``: true for the erase targets the erase journal stores while a
  conversation is open. When such a row is erased by a process other than the one that wrote it,
  that conversation's draft died with its process, and the reporter is told so on their next
  message (the row still links to no report).

SQLite deployments run one process (``bot.instance_lock``); the tables exist there unused.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 18:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    leadership = op.create_table(
        "leadership",
        sa.Column("singleton", sa.String(length=8), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("leader", sa.String(length=40), nullable=True),
        sa.Column("since", sa.DateTime(timezone=False), nullable=True),
        sa.CheckConstraint("singleton = 'leader'", name=op.f("ck_leadership_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_leadership")),
    )
    op.bulk_insert(leadership, [{"singleton": "leader", "epoch": 0}])
    op.create_table(
        "recent_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_recent_updates")),
    )
    with op.batch_alter_table("housekeeping") as batch:
        batch.add_column(
            sa.Column("conversation", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("housekeeping") as batch:
        batch.drop_column("conversation")
    op.drop_table("recent_updates")
    op.drop_table("leadership")
