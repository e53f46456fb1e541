"""product listing hash: each product keeps its newest listing version's hash and capture time

Revision ID: 0013_product_listing_hash
Revises: 0012_channel_critical_now
Create Date: 2026-11-22 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_product_listing_hash'
down_revision: str | None = '0012_channel_critical_now'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('products', sa.Column('listing_hash', sa.String(length=64), nullable=True))
    op.add_column(
        'products', sa.Column('listing_hash_at', sa.DateTime(timezone=True), nullable=True)
    )
    # The newest version of each product, in the order the page writer compares with
    # (capture time, then insertion).
    op.execute(
        """
        UPDATE products p
        SET listing_hash = v.content_hash, listing_hash_at = v.captured_at
        FROM (
            SELECT DISTINCT ON (product_id) product_id, content_hash, captured_at
            FROM listing_versions
            ORDER BY product_id, captured_at DESC, id DESC
        ) v
        WHERE p.id = v.product_id
        """
    )


def downgrade() -> None:
    op.drop_column('products', 'listing_hash_at')
    op.drop_column('products', 'listing_hash')
