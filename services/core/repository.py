"""The small base every module's repositories stand on: one session, a few typed helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import RowMapping, Select, TextClause, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
