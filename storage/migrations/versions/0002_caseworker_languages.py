"""Caseworker languages.

Why: reports are routed to a caseworker who reads the report's language, then to the least
loaded (issue 4); the schema did not record which languages a caseworker reads. A nullable
column, NULL meaning "any", so caseworkers approved before this change keep receiving every
report.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("caseworkers", sa.Column("languages", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # SQLite cannot drop a column in place before 3.35; batch mode rebuilds the table instead.
    with op.batch_alter_table("caseworkers") as batch:
        batch.drop_column("languages")
