"""All SQL of the LLM layer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.llm.models import LlmCachedResult, LlmCall


class LlmRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def cached(self, cache_key: str) -> LlmCachedResult | None:
        return await self.session.get(LlmCachedResult, cache_key)

    async def store(self, entry: LlmCachedResult) -> None:
        """First writer wins: two jobs racing on one input store one result."""
        values = {
            c.key: getattr(entry, c.key)
            for c in LlmCachedResult.__table__.columns
            if getattr(entry, c.key) is not None
        }
        await self.session.execute(
            insert(LlmCachedResult).values(**values).on_conflict_do_nothing()
        )

    async def record_calls(self, calls: list[LlmCall]) -> None:
        self.session.add_all(calls)
        await self.session.flush()

    async def calls_for(self, cache_key: str) -> list[LlmCall]:
        rows = await self.session.execute(
            select(LlmCall).where(LlmCall.cache_key == cache_key).order_by(LlmCall.created_at)
        )
        return list(rows.scalars())
