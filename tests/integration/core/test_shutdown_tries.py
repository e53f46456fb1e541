"""A job cancelled because its worker shuts down (SIGTERM) is run again without losing a try."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from arq.constants import retry_key_prefix
from arq.jobs import Job
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core.db import create_sessionmaker
from services.core.jobs import Queue, create_arq_pool, deserialize, queue_key
from services.core.settings import Settings
from services.product.apify.client import ApifyConnector
from tasks.queue_worker import ShelfwatchWorker
from tasks.runtime import TaskContext, task
from tasks.worker import build_worker

pytestmark = [
    pytest.mark.asyncio,
    # ARQ's Worker.close() still calls redis-py's deprecated close() on its pool.
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

STARTED = asyncio.Event()
RUNS: list[int] = []


@task("test.slow_once", Queue.LOW)
async def slow_once(ctx: TaskContext) -> dict[str, Any]:
    """Hangs on its first run (until the worker is stopped), returns on the next."""
    RUNS.append(len(RUNS) + 1)
    if len(RUNS) == 1:
        STARTED.set()
        await asyncio.sleep(3600)
    return {"runs": len(RUNS)}


async def _worker(settings: Settings, engine: AsyncEngine) -> ShelfwatchWorker:
    redis = await create_arq_pool(settings)  # closed by the worker's close()
    context = TaskContext(
        settings, engine, create_sessionmaker(engine), redis, ApifyConnector(settings.apify)
    )
    return build_worker(Queue.LOW, 1, context, [slow_once])


async def test_a_job_cancelled_by_shutdown_keeps_its_tries(
    settings: Settings, engine: AsyncEngine, redis: Redis
) -> None:
    RUNS.clear()
    STARTED.clear()
    settings = settings.model_copy(deep=True)
    # One counted try too many and the job would never run again (no outage window: ARQ's
    # ceiling is then max_tries itself).
    settings.queue.max_tries = 1
    settings.queue.outage_retry_s = 0
    arq = await create_arq_pool(settings)
    await arq.enqueue_job("test.slow_once", _job_id="slow-1", _queue_name=queue_key(Queue.LOW))
    await arq.aclose()

    first = await _worker(settings, engine)
    running = asyncio.create_task(first.async_run())
    await asyncio.wait_for(STARTED.wait(), 20)
    await first.close()  # what the worker process does on SIGTERM
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert int(await redis.get(retry_key_prefix + "slow-1") or 0) == 0

    second = await _worker(settings, engine)
    second.burst = True
    await second.main()
    await second.close()
    info = await Job("slow-1", redis, _deserializer=deserialize).result_info()
    assert info is not None
    assert info.success, info.result
    assert info.job_try == 1
    assert RUNS == [1, 2]
