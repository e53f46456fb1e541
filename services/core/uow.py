"""A unit of work: one database transaction plus the jobs it asked for."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.errors import DomainError
from services.core.jobs import JobBuffer

logger = logging.getLogger(__name__)


@dataclass
class UnitOfWork:
    session: AsyncSession
    jobs: JobBuffer = field(default_factory=JobBuffer)
    # Side effects that must only follow a successful commit (cache invalidation).
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], redis: ArqRedis | None
) -> AsyncIterator[UnitOfWork]:
    """Commit on success then send the jobs; on any error roll back and drop them."""
    async with sessionmaker() as session:
        uow = UnitOfWork(session)
        try:
            yield uow
            # A request answered from the cache never began a transaction: nothing to commit.
            if session.in_transaction():
                await session.commit()
        except DomainError as exc:
            if not exc.keeps_changes:
                uow.jobs.discard()
                await session.rollback()
                raise
            await session.commit()
            raise
        except BaseException:
            uow.jobs.discard()
            await session.rollback()
            raise
        if redis is not None and uow.jobs.pending:
            await uow.jobs.flush(redis)
        for hook in uow.after_commit:
            try:
                await hook()
            except Exception:  # the commit stands; a missed cache bump only costs freshness
                logger.warning("after-commit hook failed", exc_info=True)
