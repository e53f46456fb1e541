"""A unit of work: one database transaction plus the jobs it asked for."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, Protocol, TypeVar, overload

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core import outbox
from services.core.errors import DomainError
from services.core.jobs import JobBuffer

logger = logging.getLogger(__name__)
R = TypeVar("R")


class UnitOfWork:
    """One transaction's session, the jobs it asked for and what must follow its commit. The
    session is made on first use: a request answered from the cache never builds (nor closes)
    one, which costs more than the cached answer itself."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self.jobs = JobBuffer()
        # Side effects that must only follow a successful commit (cache invalidation).
        self.after_commit: list[Callable[[], Awaitable[None]]] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessionmaker()
        return self._session

    @property
    def opened(self) -> bool:
        return self._session is not None

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        """Close the session if one was made, as ``async with`` does: run to completion even
        when the request is cancelled meanwhile."""
        if self._session is not None:
            await self._session.__aexit__(None, None, None)


async def _commit(uow: UnitOfWork) -> list[uuid.UUID]:
    """Write the asked-for jobs to the outbox, then commit them with everything else."""
    requests = uow.jobs.take()
    if not requests and not (uow.opened and uow.session.in_transaction()):
        return []  # a request answered from the cache never began a transaction
    written = await outbox.write(uow.session, requests)
    await uow.session.commit()
    return written


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], redis: ArqRedis | None
) -> AsyncIterator[UnitOfWork]:
    """Commit on success (the jobs with it, in the outbox) then relay the jobs to Redis; on any
    error roll back, the jobs with it. Without ``redis`` the relay loop sends them."""
    uow = UnitOfWork(sessionmaker)
    try:
        try:
            yield uow
        except DomainError as exc:
            if not exc.keeps_changes:
                uow.jobs.discard()
                await uow.rollback()
                raise
            written = await _commit(uow)
            if redis is not None:
                await outbox.relay_written(sessionmaker, redis, written)
            raise
        except BaseException:
            uow.jobs.discard()
            await uow.rollback()
            raise
        written = await _commit(uow)
    finally:
        await uow.close()
    if redis is not None:
        await outbox.relay_written(sessionmaker, redis, written)
    for hook in uow.after_commit:
        try:
            await hook()
        except Exception:  # the commit stands; a missed cache bump only costs freshness
            logger.warning("after-commit hook failed", exc_info=True)


class _WithUnitOfWork(Protocol):
    uow: UnitOfWork


class OnSession(Generic[R]):
    """A service's repository (or session-bound helper), made on first use from its unit of
    work's session and kept: an answer read from the cache needs neither, and making them
    would make the session."""

    def __init__(self, factory: Callable[[AsyncSession], R]) -> None:
        self.factory = factory
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> OnSession[R]: ...

    @overload
    def __get__(self, obj: _WithUnitOfWork, owner: type) -> R: ...

    def __get__(self, obj: _WithUnitOfWork | None, owner: type) -> Any:
        if obj is None:
            return self
        made = self.factory(obj.uow.session)
        obj.__dict__[self.name] = made  # later reads find it before this descriptor
        return made
