"""outbox: jobs written with their transaction; the owed-jobs scan index goes

Revision ID: 0009_outbox
Revises: 0008_crawl_lease
Create Date: 2026-11-22 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009_outbox'
down_revision: str | None = '0008_crawl_lease'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('function', sa.String(length=200), nullable=False),
    sa.Column('queue', sa.String(length=20), nullable=False),
    sa.Column('job_id', sa.String(length=300), nullable=True),
    sa.Column('kwargs', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    )
    op.create_index('ix_outbox_created_at', 'outbox', ['created_at'], unique=False)
    op.create_index('uq_outbox_job_id', 'outbox', ['job_id'], unique=True, postgresql_where=sa.text('job_id IS NOT NULL'))
    # Only the periodic re-send of owed deliveries read it; the outbox replaced that scan.
    op.drop_index('ix_deliveries_pending_created_at', table_name='deliveries', postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.create_index('ix_deliveries_pending_created_at', 'deliveries', ['created_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('uq_outbox_job_id', table_name='outbox', postgresql_where=sa.text('job_id IS NOT NULL'))
    op.drop_index('ix_outbox_created_at', table_name='outbox')
    op.drop_table('outbox')
