"""The long-lived resources of a gateway process, opened in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.core.settings import Settings


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # ARQ's pool is a redis-py client too: one pool serves jobs, caches and throttles.
    redis: ArqRedis
