"""Random row ids for mailboxes, deliveries and housekeeping (I3).

Why: a counter ranks rows. ``mailboxes.id`` numbered reports in the order they were submitted,
``outbox.id`` did the same for every delivery, and ``housekeeping.id`` for conversations; with
any one row's date known, a seized database dated the others, and the counter's value told how
many there had ever been. These ids are now random 63-bit numbers drawn in Python at insert
(``storage.models.new_row_id``), so they say nothing about order or count.

- PostgreSQL: the columns (and ``mailbox_messages.mailbox_id``, which refers to a mailbox) become
  ``BIGINT``, their ``SERIAL`` defaults are dropped, and the sequences go with them (a sequence's
  last value is itself a count of rows ever inserted).
- SQLite: nothing changes on disk. ``INTEGER PRIMARY KEY`` already holds 64 bits and is the
  table's rowid, so there is no separate counter to drop; SQLite only numbered rows because no
  id was given.

Rows written before this revision keep their ids: no deployment with data exists (DESIGN.md §4),
and outbox and housekeeping rows live hours. Scheduling times are coarsened in code, not here
(``storage.coarse_time``): the columns keep their types. Downgrading restores the sequences; it
fails, keeping every row, while ids beyond 32 bits are stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, the SERIAL sequence behind it or None for a referring column)
_COLUMNS = (
    ("mailboxes", "id", "mailboxes_id_seq"),
    ("mailbox_messages", "mailbox_id", None),
    ("outbox", "id", "outbox_id_seq"),
    ("housekeeping", "id", "housekeeping_id_seq"),
)


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _on_postgresql():
        return
    for table, column, sequence in _COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.Integer(),
            type_=sa.BigInteger(),
            existing_nullable=False,
            **({"server_default": None} if sequence else {}),
        )
        if sequence:
            op.execute(f"DROP SEQUENCE IF EXISTS {sequence}")  # fixed names, no input


def downgrade() -> None:
    if not _on_postgresql():
        return
    for table, column, sequence in reversed(_COLUMNS):
        op.alter_column(
            table,
            column,
            existing_type=sa.BigInteger(),
            type_=sa.Integer(),
            existing_nullable=False,
        )
        if sequence:
            op.execute(f"CREATE SEQUENCE {sequence} OWNED BY {table}.{column}")
            # Bandit B608 reviewed: every name comes from _COLUMNS above, none from input.
            op.execute(
                f"SELECT setval('{sequence}', COALESCE((SELECT max({column}) FROM {table}), 0) + 1,"  # nosec B608
                " false)"
            )
            op.alter_column(
                table, column, server_default=sa.text(f"nextval('{sequence}'::regclass)")
            )
