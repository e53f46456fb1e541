"""Helpers for outbox tests: a Redis client with nothing behind it, and a look at the outbox."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.embedded import free_port
from services.core.jobs import Queue, deserialize, queue_key, serialize


def unreachable_arq() -> ArqRedis:
    """An ARQ client of a Redis that is down: a free local port nothing listens on."""
    return ArqRedis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=1,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=queue_key(Queue.DEFAULT),
    )


async def outbox_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            text("SELECT function, queue, job_id, kwargs, attempts, last_error FROM outbox")
        )
        return [dict(r) for r in rows.mappings()]
