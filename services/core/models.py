"""Tables of the shared infrastructure (not of any one module)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base


class OutboxJob(Base):
    """A job asked for by a transaction, written in that transaction and deleted once it is in
    Redis: a committed change can never lose the work it asked for, a rolled-back one never
    sends any."""

    __tablename__ = "outbox"
    __table_args__ = (
        # A job asked for twice before it was relayed is one row (and one job).
        Index(
            "uq_outbox_job_id",
            "job_id",
            unique=True,
            postgresql_where=text("job_id IS NOT NULL"),
        ),
        # The relay takes the oldest rows first; the backlog gauge reads the oldest one.
        Index("ix_outbox_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    function: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(20))
    # The deterministic ARQ job id asked for; without one the row id stands in, so sending the
    # same row twice is still one job.
    job_id: Mapped[str | None] = mapped_column(String(300))
    # JSON-ready arguments, the request id (META_KWARG) among them.
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    not_before: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    attempts: Mapped[int] = mapped_column(server_default="0", default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
