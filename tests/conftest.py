"""Test infrastructure: real PostgreSQL and Redis (the machine's, or embedded ones when absent),
a test database built by the migrations, and isolation between tests."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.core.db import create_engine, create_sessionmaker
from services.core.embedded import EmbeddedServers
from services.core.jobs import create_arq_pool
from services.core.migrate import upgrade
from services.core.settings import Settings
from services.core.uow import UnitOfWork, unit_of_work

# One database per test process, so two suites running at once never drop each other's.
TEST_DB = f"shelfwatch_test_{os.getpid()}"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
# Reference data the migrations seed; everything else is emptied between tests.
KEEP_TABLES = {"alembic_version", "plans"}
TEST_JWT_SECRET = "test-secret-0123456789-0123456789-abcdef"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def server_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(admin PostgreSQL URL, Redis URL): configured, else local, else embedded servers."""
    pg = os.environ.get("SHELFWATCH_TEST_POSTGRES_URL", DEFAULT_PG)
    redis = os.environ.get("SHELFWATCH_TEST_REDIS_URL", DEFAULT_REDIS)
    need_pg, need_redis = not _reachable(pg, 5432), not _reachable(redis, 6379)
    servers = EmbeddedServers(Path(tmp_path_factory.mktemp("embedded")))
    servers.start(need_database=need_pg, need_redis=need_redis)
    if servers.postgres:
        pg = servers.postgres.url.replace("/shelfwatch?", "/postgres?")
    if servers.redis:
        redis = servers.redis.url
    yield pg, redis
    servers.stop()


def _with_database(url: str, name: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def database_url(server_urls: tuple[str, str]) -> Iterator[str]:
    """A fresh test database, built by running every migration, dropped at the end."""
    admin_url, _ = server_urls
    url = _with_database(admin_url, TEST_DB)

    async def admin(*statements: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(
        admin(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)', f'CREATE DATABASE "{TEST_DB}"')
    )
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(database_url: str, server_urls: tuple[str, str]) -> Settings:
    return Settings(
        environment="test",
        database={"url": database_url, "pool_size": 5},
        redis={"url": server_urls[1]},
        auth={"jwt_secret": TEST_JWT_SECRET},
        queue={"metrics_port": 0, "retry_base_delay_s": 0.2, "retry_max_delay_s": 1},
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def arq(settings: Settings) -> AsyncIterator[ArqRedis]:
    """An ARQ client of the test Redis: jobs the code under test sends land there."""
    pool = await create_arq_pool(settings)
    yield pool
    await pool.aclose()


@pytest.fixture
def new_uow(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis
) -> Callable[[], AbstractAsyncContextManager[UnitOfWork]]:
    """A factory of units of work, as a worker gives its tasks (jobs go to the test Redis)."""
    return functools.partial(unit_of_work, sessionmaker, arq)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis.url)
    yield client
    await client.aclose()


async def reset_state(engine: AsyncEngine, settings: Settings) -> None:
    """Empty every table (but the seeded reference data) and flush Redis."""
    async with engine.begin() as conn:
        rows = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        tables = [r[0] for r in rows if r[0] not in KEEP_TABLES]
        if tables:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    client = Redis.from_url(settings.redis.url)
    await client.flushdb()
    await client.aclose()
