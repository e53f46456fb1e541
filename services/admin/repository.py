"""All SQL of the admin module: the dead-letter archive and the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.admin.models import AuditEntry, DeadLetter


def _contains(text: str) -> str:
    """An ILIKE pattern matching the text anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class DeadLetterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> uuid.UUID | None:
        """Store one failure; None when that very failure is already archived."""
        stmt = (
            insert(DeadLetter)
            .values(id=uuid.uuid4(), **values)
            .on_conflict_do_nothing(index_elements=["job_id", "failed_at"])
            .returning(DeadLetter.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, dead_letter_id: uuid.UUID, for_update: bool = False) -> DeadLetter | None:
        stmt = select(DeadLetter).where(DeadLetter.id == dead_letter_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def _filtered(self, queue: str | None, function: str | None, search: str | None) -> Any:
        stmt = select(DeadLetter)
        if queue:
            stmt = stmt.where(DeadLetter.queue == queue)
        if function:
            stmt = stmt.where(DeadLetter.function == function)
        if search:
            pattern = _contains(search)
            stmt = stmt.where(
                or_(
                    DeadLetter.job_id.ilike(pattern),
                    DeadLetter.function.ilike(pattern),
                    DeadLetter.error.ilike(pattern),
                )
            )
        return stmt

    async def page(
        self,
        *,
        queue: str | None,
        function: str | None,
        search: str | None,
        offset: int,
        limit: int,
    ) -> tuple[int, Sequence[DeadLetter]]:
        stmt = self._filtered(queue, function, search)
        total = (
            await self.session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = (
            await self.session.execute(
                stmt.order_by(DeadLetter.failed_at.desc(), DeadLetter.id)
                .offset(offset)
                .limit(limit)
            )
        ).scalars()
        return int(total), list(rows)

    async def count_by_queue(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(DeadLetter.queue, func.count()).group_by(DeadLetter.queue)
        )
        return {q: int(n) for q, n in rows}

    async def mark_replayed(self, row: DeadLetter, job_id: str, at: datetime) -> None:
        row.replay_count += 1
        row.last_replay_job_id = job_id
        row.last_replayed_at = at
        await self.session.flush()

    async def delete(self, dead_letter_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(DeadLetter).where(DeadLetter.id == dead_letter_id).returning(DeadLetter.id)
        )
        return result.scalar_one_or_none() is not None

    async def delete_older_than(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            delete(DeadLetter).where(DeadLetter.failed_at < cutoff).returning(DeadLetter.id)
        )
        return len(result.scalars().all())


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, entry: AuditEntry) -> None:
        self.session.add(entry)
        await self.session.flush()

    async def page(
        self, *, action: str | None, search: str | None, offset: int, limit: int
    ) -> tuple[int, Sequence[AuditEntry]]:
        stmt = select(AuditEntry)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        if search:
            pattern = _contains(search)
            stmt = stmt.where(
                or_(
                    AuditEntry.job_id.ilike(pattern),
                    AuditEntry.target.ilike(pattern),
                    AuditEntry.actor_email.ilike(pattern),
                    AuditEntry.queue.ilike(pattern),
                )
            )
        total = (
            await self.session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = (
            await self.session.execute(
                stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .offset(offset)
                .limit(limit)
            )
        ).scalars()
        return int(total), list(rows)
