"""Competitor groups, their members and the positioning reports run on them."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin

ACTIVE_REPORT_STATUSES = ("queued", "refreshing_data", "analysing")


class CompetitorGroup(TimestampMixin, Base):
    """One seller's main product and the competitors it is compared with."""

    __tablename__ = "competitor_groups"
    __table_args__ = (Index("ix_competitor_groups_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    marketplace: Mapped[str] = mapped_column(String(2))
    main_tracking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tracked_products.id", ondelete="CASCADE")
    )


class CompetitorGroupMember(Base):
    """A competitor in a group: one of the seller's trackings (auto-tracked or not)."""

    __tablename__ = "competitor_group_members"

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("competitor_groups.id", ondelete="CASCADE"), primary_key=True
    )
    tracking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tracked_products.id", ondelete="CASCADE"), primary_key=True
    )
    asin: Mapped[str] = mapped_column(String(10))
    # The order the seller gave the competitors in.
    position: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    # True when adding it to this group started its tracking (it stays tracked on removal).
    auto_tracked: Mapped[bool] = mapped_column(server_default="false", default=False)
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CompetitorReport(Base):
    """One positioning report: its progress, the comparison it used, the result and its cost."""

    __tablename__ = "competitor_reports"
    __table_args__ = (
        Index("ix_competitor_reports_group_id_created_at", "group_id", "created_at"),
        CheckConstraint(
            "status IN ('queued', 'refreshing_data', 'analysing', 'done', 'failed')",
            name="status_known",
        ),
        CheckConstraint("source IS NULL OR source IN ('llm', 'rule_based')", name="source_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("competitor_groups.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    forced: Mapped[bool] = mapped_column(server_default="false", default=False)
    # Job steps taken: each re-enqueue while waiting for fresh data gets its own job id.
    steps: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    crawl_run_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default="{}", default=list
    )
    freshness: Mapped[Any] = mapped_column(JSONB, nullable=True)
    comparison: Mapped[Any] = mapped_column(JSONB, nullable=True)
    result: Mapped[Any] = mapped_column(JSONB, nullable=True)
    source: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(40))
    from_cache: Mapped[bool] = mapped_column(server_default="false", default=False)
    # True when the LLM was the bundled stand-in, so nobody mistakes its text for a model's.
    simulated: Mapped[bool] = mapped_column(server_default="false", default=False)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    cached_input_tokens: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6), server_default="0", default=0)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
