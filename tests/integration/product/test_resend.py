"""Owed jobs are sent again: a record without its job (Redis failed after the commit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq import Worker
from arq.worker import func
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.jobs import Queue, create_arq_pool, deserialize, queue_key, serialize
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.product.crawl import crawl_job_id, resend_owed_jobs
from services.product.jobs import ProductJob
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


async def test_a_run_whose_job_gave_up_is_sent_again(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, redis: Redis
) -> None:
    """ARQ keeps a failed job's result under its id, and refuses that id while it does: the run
    is still open in PostgreSQL, so the re-send must go through all the same."""
    (pid,) = await seed_tracked(sessionmaker, count=1)
    run_id = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        session.add(
            CrawlRun(id=run_id, actor="a", product_ids=[pid], asin_count=1, status="running")
        )
        await session.flush()
        await session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )
    arq = await create_arq_pool(settings)

    async def gives_up(ctx: dict[str, Any], **kwargs: Any) -> None:
        raise ConnectionRefusedError("the database is restarting")

    try:
        async with unit_of_work(sessionmaker, arq) as uow:
            assert await resend_owed_jobs(uow, timedelta(minutes=15)) == 1
        # A real ARQ worker runs the job once and records its failure (result kept 1 h).
        worker = Worker(
            functions=[func(gives_up, name=ProductJob.CRAWL_BATCH)],  # type: ignore[arg-type]
            queue_name=queue_key(Queue.DEFAULT),
            redis_pool=arq,
            burst=True,
            max_tries=1,
            keep_result=3600,
            handle_signals=False,
            poll_delay=0.05,
            job_serializer=serialize,
            job_deserializer=deserialize,
        )
        await worker.main()
        assert worker.jobs_failed == 1
        assert await redis.zcard(queue_key(Queue.DEFAULT)) == 0

        async with unit_of_work(sessionmaker, arq) as uow:
            await resend_owed_jobs(uow, timedelta(minutes=15))
    finally:
        await arq.aclose()
    queued = await redis.zrange(queue_key(Queue.DEFAULT), 0, -1)
    assert queued == [crawl_job_id(run_id).encode()]
