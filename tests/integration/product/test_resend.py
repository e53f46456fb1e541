"""Owed jobs are sent again: a record without its job (Redis failed after the commit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.jobs import Queue, create_arq_pool, queue_key
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.product.crawl import crawl_job_id, resend_owed_jobs
from services.product.models import CrawlRun
from tests.factories import seed_tracked

pytestmark = pytest.mark.asyncio


async def test_stale_queued_runs_are_sent_again_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, redis: Redis
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    old, recent = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        for run_id in (old, recent):
            session.add(
                CrawlRun(id=run_id, actor="a", product_ids=[pid], asin_count=1, status="queued")
            )
        await session.flush()
        await session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == old)
            .values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )
    arq = await create_arq_pool(settings)
    try:
        for _ in range(2):
            async with unit_of_work(sessionmaker, arq) as uow:
                assert await resend_owed_jobs(uow, timedelta(minutes=15)) == 1
    finally:
        await arq.aclose()
    queued = await redis.zrange(queue_key(Queue.DEFAULT), 0, -1)
    assert queued == [crawl_job_id(old).encode()]
