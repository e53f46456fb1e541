"""The small base every module's repositories stand on: one session, a few typed helpers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import RowMapping, Select, TextClause, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.models import OutboxJob

T = TypeVar("T")


class Repository:
    """All SQL lives in subclasses of this; services never build statements."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _one_or_none(self, stmt: Select[T]) -> T | None:
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def _all(self, stmt: Select[T]) -> list[T]:
        return list((await self.session.execute(stmt)).scalars())

    async def _count(self, stmt: Select[Any]) -> int:
        counted = select(func.count()).select_from(stmt.order_by(None).subquery())
        return int(await self.session.scalar(counted) or 0)

    async def _page(self, stmt: Select[T], limit: int, offset: int) -> tuple[list[T], int]:
        """One page of ``stmt`` and the number of rows it has in all: ``(items, total)``."""
        total = await self._count(stmt)
        return await self._all(stmt.limit(limit).offset(offset)), total

    async def _rows(
        self, sql: TextClause, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        """Rows of a hand-written statement, as mappings."""
        return (await self.session.execute(sql, params or {})).mappings().all()

    async def _flush_new(self, *objects: Any) -> None:
        self.session.add_all(objects)
        await self.session.flush()


class OutboxRepository(Repository):
    """The outbox table: rows written with their transaction, claimed and deleted by the relay."""

    async def add(self, rows: Sequence[Mapping[str, Any]]) -> set[uuid.UUID]:
        """Write rows; a job id already waiting in the outbox is skipped. Returns the ids
        written."""
        if not rows:
            return set()
        stmt = (
            insert(OutboxJob)
            .values(list(rows))
            .on_conflict_do_nothing(
                index_elements=[OutboxJob.job_id], index_where=text("job_id IS NOT NULL")
            )
            .returning(OutboxJob.id)
        )
        return set((await self.session.execute(stmt)).scalars())

    async def skip_flush_on_commit(self) -> None:
        """This transaction's commit does not wait for the WAL flush: losing its deletes in a
        crash only means sending those rows again, which their job ids make harmless."""
        await self.session.execute(text("SET LOCAL synchronous_commit = off"))

    async def claim(self, ids: Sequence[uuid.UUID]) -> list[OutboxJob]:
        """These rows, locked for this transaction; rows another relay holds are skipped."""
        return await self._all(
            select(OutboxJob)
            .where(OutboxJob.id.in_(ids))
            .order_by(OutboxJob.created_at)
            .with_for_update(skip_locked=True)
        )

    async def claim_due(self, created_before: datetime, limit: int) -> list[OutboxJob]:
        """The oldest rows written before ``created_before``, locked; concurrent relays each
        get their own rows (SKIP LOCKED)."""
        return await self._all(
            select(OutboxJob)
            .where(OutboxJob.created_at < created_before)
            .order_by(OutboxJob.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

    async def delete(self, ids: Sequence[uuid.UUID]) -> None:
        if ids:
            await self.session.execute(delete(OutboxJob).where(OutboxJob.id.in_(ids)))

    async def record_failure(self, row_id: uuid.UUID, error: str) -> None:
        await self.session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == row_id)
            .values(attempts=OutboxJob.attempts + 1, last_error=error[:2000])
        )

    async def backlog(self) -> tuple[int, datetime | None]:
        """(rows waiting, when the oldest was written)."""
        row = (
            await self.session.execute(select(func.count(), func.min(OutboxJob.created_at)))
        ).one()
        return int(row[0]), row[1]
