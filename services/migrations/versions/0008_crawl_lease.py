"""crawl runs: start intent, lease, step and re-send counters

Revision ID: 0008_crawl_lease
Revises: 0007_admin
Create Date: 2026-11-22 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_crawl_lease"
down_revision: str | None = "0007_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "crawl_runs", sa.Column("start_requested_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("crawl_runs", sa.Column("lease_token", sa.String(length=200), nullable=True))
    op.add_column("crawl_runs", sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "crawl_runs", sa.Column("steps", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "crawl_runs", sa.Column("resends", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_index(
        "ix_crawl_runs_open_leased_until",
        "crawl_runs",
        ["leased_until"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("ix_crawl_runs_open_leased_until", table_name="crawl_runs")
    op.drop_column("crawl_runs", "resends")
    op.drop_column("crawl_runs", "steps")
    op.drop_column("crawl_runs", "leased_until")
    op.drop_column("crawl_runs", "lease_token")
    op.drop_column("crawl_runs", "start_requested_at")
