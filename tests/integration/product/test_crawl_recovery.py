"""A batch survives the worker dying at any moment without paying Apify twice, never holds a
lock or a worker slot while Apify works, and is sent again soon after its lease lapses."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import pytest
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix
from redis.asyncio import Redis
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.jobs import JobRequest, Queue, job_waiting, queue_key, send_job
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.apify.adapters import adapter_for
from services.product.apify.client import ApifyConnector
from services.product.crawl import CrawlBatchRunner, CrawlPlanner, resend_stalled_batches
from services.product.marketplaces import Marketplace, product_url
from services.product.models import CrawlRun, Product
from simulator.server import SimulatorServer
from tests.factories import seed_tracked

pytestmark = pytest.mark.asyncio
UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


async def _plan_one(new_uow: UowFactory, settings: Settings) -> uuid.UUID:
    async with new_uow() as uow:
        (run_id,) = (await CrawlPlanner(uow, settings).plan()).runs
    return run_id


async def _batch_input(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, actor: str
) -> dict[str, object]:
    """The input the batch's job sends Apify (what a worker killed mid-start had sent)."""
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None
        products = {
            p.id: p
            for p in (
                await session.execute(select(Product).where(Product.id.in_(run.product_ids)))
            ).scalars()
        }
    urls = [
        product_url(Marketplace(products[pid].marketplace), products[pid].asin)
        for pid in sorted(run.product_ids)
        if pid in products
    ]
    return adapter_for(actor).build_input(urls)


async def test_a_run_started_by_a_killed_worker_is_found_and_reused_not_paid_twice(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
) -> None:
    await seed_tracked(sessionmaker, count=12)
    run_id = await _plan_one(new_uow, crawl_settings)
    actor = crawl_settings.apify.actor
    # Given: a worker recorded its intent, Apify started the run, and the worker died before
    # recording the run's id.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(start_requested_at=datetime.now(UTC))
        )
    orphan = await gateway.start_run(
        actor, await _batch_input(sessionmaker, run_id, actor), max_items=24, timeout_s=900
    )
    # Another batch's run with a different input must not be taken for it.
    await gateway.start_run(
        actor,
        adapter_for(actor).build_input([product_url(Marketplace.US, "B0OTHER001")]),
        max_items=2,
        timeout_s=900,
    )
    assert len(simulator.runs()) == 2

    # When: the retry runs the batch.
    result = await CrawlBatchRunner(new_uow, gateway, crawl_settings).run(run_id, "job-retry")

    # Then: it adopted the orphaned run; Apify was not asked for (and paid) a third one.
    assert result.status == "succeeded"
    assert len(simulator.runs()) == 2
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None
        assert run.apify_run_id == orphan.run_id
        assert run.item_count + run.missing_count == 12


async def test_an_intent_without_a_run_at_apify_starts_one_run(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
) -> None:
    await seed_tracked(sessionmaker, count=5)
    run_id = await _plan_one(new_uow, crawl_settings)
    # The worker died after recording its intent but before Apify got the request.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(start_requested_at=datetime.now(UTC) - timedelta(seconds=30))
        )
    result = await CrawlBatchRunner(new_uow, gateway, crawl_settings).run(run_id, "job-retry")
    assert result.status == "succeeded"
    assert len(simulator.runs()) == 1


async def test_no_row_lock_or_open_transaction_while_apify_answers(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
) -> None:
    await seed_tracked(sessionmaker, count=5)
    run_id = await _plan_one(new_uow, crawl_settings)
    simulator.update_config(latency_ms=1500)  # every Apify call takes 1.5 s
    step = asyncio.create_task(CrawlBatchRunner(new_uow, gateway, crawl_settings).run(run_id))
    await asyncio.sleep(0.8)  # the step is now inside its first Apify call
    assert not step.done()
    async with sessionmaker() as session, session.begin():
        # NOWAIT fails at once if the batch's row is locked by the running step.
        await session.execute(
            text("SELECT id FROM crawl_runs WHERE id = :id FOR UPDATE NOWAIT"), {"id": run_id}
        )
        idle = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'"
            )
        )
    assert idle == 0
    simulator.update_config(latency_ms=0)
    assert (await step).status == "succeeded"


async def test_a_long_apify_run_frees_the_worker_and_comes_back_later(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
    redis: Redis,
) -> None:
    await seed_tracked(sessionmaker, count=5)
    run_id = await _plan_one(new_uow, crawl_settings)
    simulator.update_config(run_duration_s=600)
    crawl_settings.crawl.poll_wait_s = 0
    runner = CrawlBatchRunner(new_uow, gateway, crawl_settings)

    first = await runner.run(run_id, f"product.crawl_batch:{run_id}")
    # The step returned at once; the batch is handed to a deferred job with a new id.
    assert first.status == "running"
    next_job = f"product.crawl_batch:{run_id}:1"
    score = await redis.zscore(queue_key(Queue.DEFAULT), next_job)
    assert score is not None
    defer_s = score / 1000 - datetime.now(UTC).timestamp()
    assert 0 < defer_s <= crawl_settings.crawl.poll_interval_s
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None
        assert run.lease_token == next_job
        assert run.status == "running"
    # The old job cannot take the batch back; the next one resumes the same Apify run.
    assert (await runner.run(run_id, f"product.crawl_batch:{run_id}")).skipped
    second = await runner.run(run_id, next_job)
    assert second.status == "running"
    assert len(simulator.runs()) == 1


async def test_a_lapsed_lease_is_sent_again_even_when_earlier_attempts_left_keys(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    arq: ArqRedis,
    redis: Redis,
) -> None:
    await seed_tracked(sessionmaker, count=3)
    run_id = await _plan_one(new_uow, crawl_settings)
    dead_job = f"product.crawl_batch:{run_id}"
    # Given: the job that held the batch died; ARQ still has its in-progress marker and an
    # earlier attempt's failed result.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(
                status="running",
                lease_token=dead_job,
                leased_until=datetime.now(UTC) - timedelta(seconds=1),
            )
        )
    await redis.set(in_progress_key_prefix + dead_job, b"1")
    await redis.set(result_key_prefix + dead_job, b"{}")
    async with new_uow() as uow:
        assert await resend_stalled_batches(uow, crawl_settings) == 1
    # Then: a job with a fresh id is queued and holds the lease; a second pass sends nothing.
    queued = await redis.zrange(queue_key(Queue.DEFAULT), 0, -1)
    assert f"product.crawl_batch:{run_id}:1".encode() in queued
    async with new_uow() as uow:
        assert await resend_stalled_batches(uow, crawl_settings) == 0
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None
        assert run.lease_token == f"product.crawl_batch:{run_id}:1"


async def test_a_lapsed_lease_whose_job_still_waits_in_its_queue_is_extended_not_resent(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    arq: ArqRedis,
    redis: Redis,
) -> None:
    """A hand-over job deferred behind a busy queue outlives its lease without being lost:
    re-sending it would burn one of the batch's tries on a batch that is only late."""
    await seed_tracked(sessionmaker, count=3)
    run_id = await _plan_one(new_uow, crawl_settings)
    late_job = f"product.crawl_batch:{run_id}:1"
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(
                status="running",
                lease_token=late_job,
                leased_until=datetime.now(UTC) - timedelta(seconds=1),
            )
        )
    waiting = functools.partial(job_waiting, arq)
    await send_job(
        arq,
        JobRequest("product.crawl_batch", Queue.DEFAULT, {"run_id": str(run_id)}, late_job, 60),
    )
    async with new_uow() as uow:
        assert await resend_stalled_batches(uow, crawl_settings, waiting=waiting) == 0
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None
        assert run.lease_token == late_job and run.resends == 0
        assert run.leased_until is not None and run.leased_until > datetime.now(UTC)
    # Once a worker has taken that job and died, the same lapse is a stall: sent again.
    await redis.set(in_progress_key_prefix + late_job, b"1")
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(leased_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    async with new_uow() as uow:
        assert await resend_stalled_batches(uow, crawl_settings, waiting=waiting) == 1


async def test_a_batch_whose_first_job_never_came_is_given_up_after_its_deadline(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
) -> None:
    """Its first job was lost or failed for good before it took a lease: no run stays
    queued for ever, and its products are due again."""
    await seed_tracked(sessionmaker, count=3)
    run_id = await _plan_one(new_uow, crawl_settings)
    async with new_uow() as uow:  # recent: still its first job's to take
        assert await resend_stalled_batches(uow, crawl_settings) == 0
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None and run.status == "queued"
    too_old = datetime.now(UTC) - timedelta(seconds=crawl_settings.crawl.batch_deadline_s + 1)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(CrawlRun).where(CrawlRun.id == run_id).values(created_at=too_old)
        )
    async with new_uow() as uow:
        assert await resend_stalled_batches(uow, crawl_settings) == 0
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None and run.status == "failed"
        assert run.error is not None and "past its deadline" in run.error
    async with new_uow() as uow:  # its products are due again at once
        assert len((await CrawlPlanner(uow, crawl_settings).plan()).runs) == 1


async def test_a_batch_never_started_within_its_window_is_released(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    gateway: ApifyConnector,
    simulator: SimulatorServer,
) -> None:
    await seed_tracked(sessionmaker, count=3)
    run_id = await _plan_one(new_uow, crawl_settings)
    too_old = datetime.now(UTC) - timedelta(seconds=crawl_settings.crawl.start_within_s + 1)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(CrawlRun).where(CrawlRun.id == run_id).values(created_at=too_old)
        )
    result = await CrawlBatchRunner(new_uow, gateway, crawl_settings).run(run_id)
    assert result.status == "failed"
    assert simulator.runs() == []
    async with new_uow() as uow:  # its products are due again at once
        assert len((await CrawlPlanner(uow, crawl_settings).plan()).runs) == 1


async def test_a_batch_whose_jobs_keep_dying_is_given_up_and_its_products_released(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    crawl_settings: Settings,
    redis: Redis,
) -> None:
    await seed_tracked(sessionmaker, count=3)
    run_id = await _plan_one(new_uow, crawl_settings)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(
                status="running",
                lease_token="some-job",
                leased_until=datetime.now(UTC) - timedelta(seconds=1),
                resends=crawl_settings.queue.max_tries,
            )
        )
    async with new_uow() as uow:
        assert await resend_stalled_batches(uow, crawl_settings) == 0
    async with sessionmaker() as session:
        run = await session.get(CrawlRun, run_id)
        assert run is not None
        assert run.status == "failed"
        assert "abandoned" in (run.error or "")
    async with new_uow() as uow:  # its products can be planned again
        assert len((await CrawlPlanner(uow, crawl_settings).plan()).runs) == 1
