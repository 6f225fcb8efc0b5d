"""Format v2, the chain of trust (I9).

Why: nothing in the database may make a recipient, a caseworker chat or a reply on its own.

- ``enrolment_claims``: every ``/enroll`` is recorded as a claim the bot signs (chat id and keys
  under the bot's signature); ``sanad admin approve --confirm CODE`` binds the certificate to the
  claim whose code the caseworker read aloud.
- ``caseworkers.delivery_chat_id`` becomes nullable and indexed: it is copied from the
  certificate at approval to find a chat's rows, and never trusted (the certificate binds the
  chat).
- ``mailbox_messages.signer`` and ``signer_key_id``: who signed a reply (caseworker or bot) and
  with which key, so /status can verify the stored signature against a valid certificate.
- ``audit_log.signature``: each chain link signed with the bot key.

No v1 deployment exists (DESIGN.md §4), so rows of the old format are not converted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrolment_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caseworker_id", sa.Integer(), nullable=False),
        sa.Column("claim", sa.LargeBinary(), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["caseworker_id"],
            ["caseworkers.id"],
            name=op.f("fk_enrolment_claims_caseworker_id_caseworkers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_claims")),
    )
    op.create_index(
        op.f("ix_enrolment_claims_caseworker_id"), "enrolment_claims", ["caseworker_id"]
    )
    with op.batch_alter_table("caseworkers") as batch:
        batch.alter_column("delivery_chat_id", existing_type=sa.BigInteger(), nullable=True)
        batch.create_index(batch.f("ix_caseworkers_delivery_chat_id"), ["delivery_chat_id"])
    with op.batch_alter_table("mailbox_messages") as batch:
        batch.add_column(sa.Column("signer", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("signer_key_id", sa.LargeBinary(length=16), nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("signature", sa.LargeBinary(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("signature")
    with op.batch_alter_table("mailbox_messages") as batch:
        batch.drop_column("signer_key_id")
        batch.drop_column("signer")
    with op.batch_alter_table("caseworkers") as batch:
        batch.drop_index(batch.f("ix_caseworkers_delivery_chat_id"))
        batch.alter_column("delivery_chat_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_index(op.f("ix_enrolment_claims_caseworker_id"), table_name="enrolment_claims")
    op.drop_table("enrolment_claims")
