"""Optimization runs, their suggestions, and the experiments that measure applied ones."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base


class OptimizationRun(Base):
    """One background computation of a tracked product's score and suggestions."""

    __tablename__ = "optimization_runs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        Index("ix_optimization_runs_tracked_created", "tracked_product_id", "created_at"),
        # At most one unfinished run per tracked product: the deduplication holds under races.
        Index(
            "uq_optimization_runs_one_active",
            "tracked_product_id",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tracked_product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tracked_products.id", ondelete="CASCADE")
    )
    product_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), server_default="queued", default="queued")
    error: Mapped[str | None] = mapped_column(Text)
    # rules | llm: who wrote the suggestions (llm runs hold rule suggestions too).
    source: Mapped[str | None] = mapped_column(String(10))
    llm_model: Mapped[str | None] = mapped_column(String(100))
    prompt_version: Mapped[str | None] = mapped_column(String(50))
    llm_status: Mapped[str | None] = mapped_column(String(20))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))
    score_total: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The evidence the run used: competitors, keywords, listing age.
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Suggestion(Base):
    """One proposed change to a listing, and what the seller decided about it."""

    __tablename__ = "suggestions"
    __table_args__ = (
        CheckConstraint(
            "type IN ('title', 'pricing', 'bullets', 'images', 'keywords')", name="type_known"
        ),
        CheckConstraint(
            "status IN ('open', 'accepted', 'dismissed', 'applied')", name="status_known"
        ),
        CheckConstraint("source IN ('rules', 'llm')", name="source_known"),
        CheckConstraint("priority IN ('high', 'medium', 'low')", name="priority_known"),
        Index("ix_suggestions_run_id_rank", "run_id", "rank"),
        Index("ix_suggestions_user_id_tracked", "user_id", "tracked_product_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("optimization_runs.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tracked_product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tracked_products.id", ondelete="CASCADE")
    )
    rank: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    proposed_change: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    expected_impact: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    priority: Mapped[str] = mapped_column(String(6))
    source: Mapped[str] = mapped_column(String(5))
    status: Mapped[str] = mapped_column(String(10), server_default="open", default="open")
    dismiss_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Experiment(Base):
    """The measured impact of one applied suggestion: baseline, after, verdict."""

    __tablename__ = "experiments"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'evaluated')", name="status_known"),
        CheckConstraint(
            "verdict IS NULL OR verdict IN "
            "('improved', 'worse', 'no_clear_change', 'insufficient_data')",
            name="verdict_known",
        ),
        Index("ix_experiments_user_id_live_at", "user_id", "live_at"),
        Index("ix_experiments_status_measure_end", "status", "measure_end"),
        Index("ix_experiments_tracked_product_id", "tracked_product_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tracked_product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tracked_products.id", ondelete="CASCADE")
    )
    product_id: Mapped[int] = mapped_column(BigInteger)
    suggestion_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("suggestions.id", ondelete="CASCADE"), unique=True
    )
    suggestion_type: Mapped[str] = mapped_column(String(10))
    live_at: Mapped[datetime]
    baseline_start: Mapped[datetime]
    measure_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), server_default="running", default="running")
    baseline: Mapped[dict[str, Any]] = mapped_column(JSONB)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    verdict: Mapped[str | None] = mapped_column(String(20))
    method: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    evaluated_at: Mapped[datetime | None]
