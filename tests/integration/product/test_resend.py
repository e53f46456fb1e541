"""A crawl batch planned while Redis is down is not lost: its job waits in the outbox (committed
with the run) and the relay loop sends it once Redis is back, once however often it runs."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.jobs import Queue, create_arq_pool, queue_key
from services.core.outbox import relay_due
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.product.crawl import CrawlPlanner, crawl_job_id
from services.product.models import CrawlRun
from tests.factories import seed_tracked
from tests.outbox_support import outbox_rows, unreachable_arq

pytestmark = pytest.mark.asyncio


async def test_a_run_planned_while_redis_is_down_is_sent_once_when_it_is_back(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, redis: Redis
) -> None:
    await seed_tracked(sessionmaker, count=3)
    down = unreachable_arq()
    async with unit_of_work(sessionmaker, down) as uow:
        (run_id,) = (await CrawlPlanner(uow, settings).plan()).runs
    await down.aclose()
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None and run.status == "queued"
    (row,) = await outbox_rows(sessionmaker)
    assert row["job_id"] == crawl_job_id(run_id)
    assert row["kwargs"]["run_id"] == str(run_id)

    arq = await create_arq_pool(settings)
    try:
        sent = [(await relay_due(sessionmaker, arq, older_than_s=0, batch=10)).sent]
        # A second pass (another scheduler, or the same one a tick later) finds nothing to send.
        sent.append((await relay_due(sessionmaker, arq, older_than_s=0, batch=10)).sent)
    finally:
        await arq.aclose()
    assert sent == [1, 0]
    queued = await redis.zrange(queue_key(Queue.DEFAULT), 0, -1)
    assert queued == [crawl_job_id(run_id).encode()]
    assert await outbox_rows(sessionmaker) == []
