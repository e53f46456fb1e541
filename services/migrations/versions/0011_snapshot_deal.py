"""snapshot deal: whether the page showed the price as a deal

Revision ID: 0011_snapshot_deal
Revises: 0010_alert_episodes
Create Date: 2026-11-22 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_snapshot_deal'
down_revision: str | None = '0010_alert_episodes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: adding it to the partitioned table rewrites nothing, and
    # "not reported" stays distinct from "not a deal".
    op.add_column('snapshots', sa.Column('deal', sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column('snapshots', 'deal')
