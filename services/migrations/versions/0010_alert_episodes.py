"""alert episodes: a later snapshot that undoes a change ends its alert

Revision ID: 0010_alert_episodes
Revises: 0009_outbox
Create Date: 2026-11-22 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010_alert_episodes'
down_revision: str | None = '0009_outbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('alert_events', sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('alert_events', sa.Column('ended_value', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('alert_events', sa.Column('ended_message', sa.Text(), nullable=True))
    op.add_column('alert_events', sa.Column('ended_crawl_run_id', sa.UUID(), nullable=True))


def downgrade() -> None:
    op.drop_column('alert_events', 'ended_crawl_run_id')
    op.drop_column('alert_events', 'ended_message')
    op.drop_column('alert_events', 'ended_value')
    op.drop_column('alert_events', 'ended_at')
