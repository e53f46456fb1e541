"""indexes the real queries need

Revision ID: 0004_indexes
Revises: 0003_alerts
Create Date: 2026-11-22 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_indexes'
down_revision: str | None = '0003_alerts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # See docs/queries.md for the statements these serve and their plans.
    op.create_index(
        'ix_crawl_runs_open_created_at',
        'crawl_runs',
        ['created_at'],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_index(
        'ix_deliveries_pending_created_at',
        'deliveries',
        ['created_at'],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index('ix_refresh_tokens_family_id', 'refresh_tokens', ['family_id'])
    op.create_index('ix_refresh_tokens_expires_at', 'refresh_tokens', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_refresh_tokens_expires_at', table_name='refresh_tokens')
    op.drop_index('ix_refresh_tokens_family_id', table_name='refresh_tokens')
    op.drop_index('ix_deliveries_pending_created_at', table_name='deliveries')
    op.drop_index('ix_crawl_runs_open_created_at', table_name='crawl_runs')
