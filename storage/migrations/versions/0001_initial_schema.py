"""Initial schema.

Why: Sanad's first schema (DESIGN.md §5): reports with sealed bodies and per-body wraps,
caseworkers, revocation lists, mailboxes and their sealed messages, the delivery outbox,
housekeeping targets and the audit log. Content columns are sealed blobs and report times are
days (I1-I3); see storage/models.py for what each table may hold.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 16:02:24.486430
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('actor_key_id', sa.LargeBinary(length=16), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.LargeBinary(length=32), nullable=True),
    sa.Column('entry_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_table('caseworkers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('delivery_chat_id', sa.BigInteger(), nullable=False),
    sa.Column('encryption_public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('encryption_key_id', sa.LargeBinary(length=16), nullable=False),
    sa.Column('signing_public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('fingerprint', sa.String(length=80), nullable=False),
    sa.Column('certificate', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'verified', 'revoked', name='caseworkerstatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('created_day', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['replaces_id'], ['caseworkers.id'], name=op.f('fk_caseworkers_replaces_id_caseworkers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caseworkers')),
    sa.UniqueConstraint('encryption_key_id', name=op.f('uq_caseworkers_encryption_key_id')),
    sa.UniqueConstraint('label', name=op.f('uq_caseworkers_label'))
    )
    op.create_table('housekeeping',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('key_version', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housekeeping'))
    )
    with op.batch_alter_table('housekeeping', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_housekeeping_deadline'), ['deadline'], unique=False)

    op.create_table('revocation_lists',
    sa.Column('serial', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('signed', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_revocation_lists'))
    )
    op.create_table('reports',
    sa.Column('id', sa.LargeBinary(length=16), nullable=False),
    sa.Column('case_reference', sa.String(length=8), nullable=False),
    sa.Column('status', sa.Enum('received', 'assigned', 'in_progress', 'closed', name='reportstatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('language', sa.Enum('ar', 'fr', 'en', name='language', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('assigned_caseworker_id', sa.Integer(), nullable=True),
    sa.Column('created_day', sa.Date(), nullable=False),
    sa.Column('closed_day', sa.Date(), nullable=True),
    sa.Column('next_sequence', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_caseworker_id'], ['caseworkers.id'], name=op.f('fk_reports_assigned_caseworker_id_caseworkers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('case_reference', name=op.f('uq_reports_case_reference'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_assigned_caseworker_id'), ['assigned_caseworker_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_closed_day'), ['closed_day'], unique=False)

    op.create_table('mailboxes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.LargeBinary(length=16), nullable=False),
    sa.Column('lookup_tag', sa.LargeBinary(length=32), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('pepper_version', sa.Integer(), nullable=False),
    sa.Column('last_lookup_day', sa.Date(), nullable=True),
    sa.Column('created_day', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_mailboxes_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailboxes')),
    sa.UniqueConstraint('lookup_tag', name=op.f('uq_mailboxes_lookup_tag')),
    sa.UniqueConstraint('report_id', name=op.f('uq_mailboxes_report_id'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('report', 'addendum', 'notice', name='deliverykind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('caseworker_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.LargeBinary(length=16), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', sa.DateTime(), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('pending', 'sent', 'failed', name='deliverystatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.ForeignKeyConstraint(['caseworker_id'], ['caseworkers.id'], name=op.f('fk_outbox_caseworker_id_caseworkers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_outbox_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_caseworker_id'), ['caseworker_id'], unique=False)
        batch_op.create_index('ix_outbox_claimable', ['status', 'not_before'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_report_id'), ['report_id'], unique=False)

    op.create_table('report_bodies',
    sa.Column('report_id', sa.LargeBinary(length=16), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('report', 'addendum', name='bodykind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('body_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_day', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_bodies_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id', 'sequence', name=op.f('pk_report_bodies'))
    )
    op.create_table('mailbox_messages',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('direction', sa.Enum('to_reporter', 'from_reporter', name='direction', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('message_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=True),
    sa.Column('created_day', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_mailbox_messages_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('mailbox_id', 'sequence', name=op.f('pk_mailbox_messages'))
    )
    op.create_table('wraps',
    sa.Column('report_id', sa.LargeBinary(length=16), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('recipient_key_id', sa.LargeBinary(length=16), nullable=False),
    sa.Column('wrap', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['report_id', 'sequence'], ['report_bodies.report_id', 'report_bodies.sequence'], name=op.f('fk_wraps_report_id_sequence_report_bodies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id', 'sequence', 'recipient_key_id', name=op.f('pk_wraps'))
    )
    with op.batch_alter_table('wraps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wraps_recipient_key_id'), ['recipient_key_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('wraps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wraps_recipient_key_id'))

    op.drop_table('wraps')
    op.drop_table('mailbox_messages')
    op.drop_table('report_bodies')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_report_id'))
        batch_op.drop_index('ix_outbox_claimable')
        batch_op.drop_index(batch_op.f('ix_outbox_caseworker_id'))

    op.drop_table('outbox')
    op.drop_table('mailboxes')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_closed_day'))
        batch_op.drop_index(batch_op.f('ix_reports_assigned_caseworker_id'))

    op.drop_table('reports')
    op.drop_table('revocation_lists')
    with op.batch_alter_table('housekeeping', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_housekeeping_deadline'))

    op.drop_table('housekeeping')
    op.drop_table('caseworkers')
    op.drop_table('audit_log')
