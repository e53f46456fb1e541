"""A queue's worker drains ready jobs back to back, within its share of concurrency."""

from __future__ import annotations

import asyncio

import pytest
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core.db import create_sessionmaker
from services.core.jobs import JobRequest, Queue, create_arq_pool, send_job
from services.core.settings import Settings
from services.product.apify.client import ApifyConnector
from tasks.runtime import TaskContext, task
from tasks.worker import build_worker

pytestmark = pytest.mark.asyncio

running = 0
most_at_once = 0
done = 0


@task("test.sleep_low", Queue.LOW)
async def sleep_low(context: TaskContext) -> None:
    global running, most_at_once, done
    running += 1
    most_at_once = max(most_at_once, running)
    await asyncio.sleep(0.05)
    running -= 1
    done += 1


@task("test.sleep_long_low", Queue.LOW)
async def sleep_long_low(context: TaskContext) -> None:
    await asyncio.sleep(1.0)


@task("test.noop_critical", Queue.CRITICAL)
async def noop_critical(context: TaskContext) -> None:
    return None


@pytest.fixture(autouse=True)
def _counters() -> None:
    global running, most_at_once, done
    running = most_at_once = done = 0


async def test_a_one_slot_queue_drains_without_waiting_a_poll_per_job(
    settings: Settings, engine: AsyncEngine
) -> None:
    """With one slot and a poll every 30 s, ARQ alone would run one job per poll (8 jobs:
    ~4 minutes); the worker takes the next ready job as soon as its slot frees, and never runs
    two at once."""
    redis = await create_arq_pool(settings)
    context = TaskContext(
        settings, engine, create_sessionmaker(engine), redis, ApifyConnector(settings.apify)
    )
    worker = build_worker(Queue.LOW, 1, context, [sleep_low])
    worker.poll_delay_s = 30.0
    worker.burst = True
    try:
        for n in range(8):
            await send_job(redis, JobRequest("test.sleep_low", Queue.LOW, {}, job_id=f"drain-{n}"))
        await asyncio.wait_for(worker.main(), timeout=20)
    finally:
        await redis.aclose()
    assert done == 8
    assert most_at_once == 1


async def test_low_borrows_only_the_slots_an_idle_critical_queue_leaves(
    settings: Settings, engine: AsyncEngine
) -> None:
    """low (1 slot of its own) runs on critical's 3 idle slots too, never beyond 1 + 3; with
    critical's slots all in use it is back to its own one."""
    global most_at_once
    redis = await create_arq_pool(settings)
    context = TaskContext(
        settings, engine, create_sessionmaker(engine), redis, ApifyConnector(settings.apify)
    )
    critical = build_worker(Queue.CRITICAL, 3, context, [noop_critical])
    low = build_worker(Queue.LOW, 1, context, [sleep_low], borrow_up_to=10)
    low.lend_from([critical, low])
    low.burst = True
    try:
        for n in range(12):
            await send_job(redis, JobRequest("test.sleep_low", Queue.LOW, {}, job_id=f"b-{n}"))
        await asyncio.wait_for(low.main(), timeout=20)
        assert done == 12 and most_at_once == 4
        # Critical busy on all of its slots: nothing to lend.
        critical.job_counter = critical.share
        most_at_once = 0
        low = build_worker(Queue.LOW, 1, context, [sleep_low], borrow_up_to=10)
        low.lend_from([critical, low])
        low.burst = True
        for n in range(4):
            await send_job(redis, JobRequest("test.sleep_low", Queue.LOW, {}, job_id=f"c-{n}"))
        await asyncio.wait_for(low.main(), timeout=20)
        assert done == 16 and most_at_once == 1
    finally:
        await redis.aclose()


async def _queue_reads(redis: ArqRedis) -> int:
    """How many times any client has read a queue's ready jobs (ARQ's poll) on this server."""
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_zrangebyscore", {}).get("calls", 0))


async def test_a_running_job_with_free_slots_does_not_make_the_worker_poll_without_pause(
    settings: Settings, engine: AsyncEngine
) -> None:
    """A running job stays in its queue's sorted set, so every poll hands its id out again: the
    worker must count the jobs it started, not the ids it read, or it polls in a tight loop
    for as long as the job runs (thousands of reads a second). With a poll every 0.2 s, one
    1-second job needs about five."""
    redis = await create_arq_pool(settings)
    context = TaskContext(
        settings, engine, create_sessionmaker(engine), redis, ApifyConnector(settings.apify)
    )
    worker = build_worker(Queue.LOW, 3, context, [sleep_long_low])
    worker.burst = True
    try:
        await send_job(redis, JobRequest("test.sleep_long_low", Queue.LOW, {}, job_id="long-1"))
        before = await _queue_reads(redis)
        await asyncio.wait_for(worker.main(), timeout=20)
        reads = await _queue_reads(redis) - before
    finally:
        await redis.aclose()
    assert worker.jobs_complete == 1
    assert reads < 60, reads
