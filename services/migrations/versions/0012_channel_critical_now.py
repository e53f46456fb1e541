"""channel mode critical_now: critical alerts at once, the rest in the daily digest (the default)

Revision ID: 0012_channel_critical_now
Revises: 0011_snapshot_deal
Create Date: 2026-11-22 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_channel_critical_now"
down_revision: str | None = "0011_snapshot_deal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_notification_channels_mode_known"), "notification_channels")
    op.alter_column(
        "notification_channels",
        "mode",
        type_=sa.String(length=20),
        server_default="critical_now",
        existing_nullable=False,
    )
    op.create_check_constraint(
        op.f("ck_notification_channels_mode_known"),
        "notification_channels",
        "mode IN ('immediate', 'digest', 'critical_now')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_notification_channels_mode_known"), "notification_channels")
    # The nearest older mode: every alert the channel lets through, at once.
    op.execute("UPDATE notification_channels SET mode = 'immediate' WHERE mode = 'critical_now'")
    op.alter_column(
        "notification_channels",
        "mode",
        type_=sa.String(length=10),
        server_default="immediate",
        existing_nullable=False,
    )
    op.create_check_constraint(
        op.f("ck_notification_channels_mode_known"),
        "notification_channels",
        "mode IN ('immediate', 'digest')",
    )
