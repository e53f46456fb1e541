"""admin: dead-letter archive and audit log

Revision ID: 0007_admin
Revises: 0003_alerts
Create Date: 2026-11-22 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007_admin'
down_revision: str | None = '0006_optimization'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dead_letters',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('job_id', sa.String(length=200), nullable=False),
    sa.Column('queue', sa.String(length=20), nullable=False),
    sa.Column('function', sa.String(length=100), nullable=False),
    sa.Column('args', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('kwargs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('error_type', sa.String(length=200), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('replay_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_replay_job_id', sa.String(length=200), nullable=True),
    sa.Column('last_replayed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
    sa.UniqueConstraint('job_id', 'failed_at', name=op.f('uq_dead_letters_job_id_failed_at')),
    )
    op.create_index('ix_dead_letters_failed_at', 'dead_letters', ['failed_at'], unique=False)
    op.create_index('ix_dead_letters_function_failed_at', 'dead_letters', ['function', 'failed_at'], unique=False)
    op.create_table('admin_audit_log',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('actor_email', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('queue', sa.String(length=20), nullable=True),
    sa.Column('job_id', sa.String(length=200), nullable=True),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.CheckConstraint("outcome IN ('ok', 'refused')", name=op.f('ck_admin_audit_log_outcome_known')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_admin_audit_log_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_audit_log')),
    )
    op.create_index('ix_admin_audit_log_at', 'admin_audit_log', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_admin_audit_log_at', table_name='admin_audit_log')
    op.drop_table('admin_audit_log')
    op.drop_index('ix_dead_letters_function_failed_at', table_name='dead_letters')
    op.drop_index('ix_dead_letters_failed_at', table_name='dead_letters')
    op.drop_table('dead_letters')
