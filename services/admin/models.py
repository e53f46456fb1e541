"""The dead-letter archive and the admin audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import func as sa_func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base


class DeadLetter(Base):
    """A job that exhausted its retries or failed for good, kept after ARQ forgets it."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        # The worker and the catch-up sweep may both archive one failure: stored once.
        UniqueConstraint("job_id", "failed_at"),
        Index("ix_dead_letters_failed_at", "failed_at"),
        Index("ix_dead_letters_function_failed_at", "function", "failed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    job_id: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(20))
    function: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column(JSONB)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    tries: Mapped[int]
    error_type: Mapped[str] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    failed_at: Mapped[datetime]
    archived_at: Mapped[datetime] = mapped_column(server_default=sa_func.now())
    replay_count: Mapped[int] = mapped_column(server_default="0")
    last_replay_job_id: Mapped[str | None] = mapped_column(String(200))
    last_replayed_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One admin action: who, what, when, on which queue/job, and how it ended."""

    __tablename__ = "admin_audit_log"
    __table_args__ = (
        Index("ix_admin_audit_log_at", "at"),
        CheckConstraint("outcome IN ('ok', 'refused')", name="outcome_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(server_default=sa_func.now())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60))
    queue: Mapped[str | None] = mapped_column(String(20))
    job_id: Mapped[str | None] = mapped_column(String(200))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    outcome: Mapped[str] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text)
