"""Product module tasks: crawl planning, crawl batches, read models, partition maintenance."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from services.core.jobs import Hook, Queue, job_waiting
from services.core.logging import job_id_var
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.product.crawl import (
    CrawlBatchRunner,
    CrawlPlanner,
    resend_stalled_batches,
)
from services.product.jobs import ProductJob
from services.product.maintenance import ProductMaintenance
from tasks.runtime import TaskContext, task


@task(ProductJob.PLAN_CRAWLS, Queue.DEFAULT)
async def plan_crawls(ctx: TaskContext) -> dict[str, Any]:
    """Group every due product into batches and enqueue one crawl job per batch."""
    async with ctx.unit_of_work() as uow:
        result = await CrawlPlanner(uow, ctx.settings).plan()
    return {"products": result.products, "runs": len(result.runs)}


@task(ProductJob.PLAN_FIRST_CRAWLS, Queue.CRITICAL)
async def plan_first_crawls(ctx: TaskContext) -> dict[str, Any]:
    """Batch the newly tracked products nobody crawled yet, ahead of the next planning tick."""
    async with ctx.unit_of_work() as uow:
        result = await CrawlPlanner(uow, ctx.settings).plan_first()
    return {"products": result.products, "runs": len(result.runs)}


async def _crawl(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    cache = ReadCache(ctx.redis, ctx.settings.cache.ttl_s)
    runner = CrawlBatchRunner(
        ctx.unit_of_work,
        ctx.apify,
        ctx.settings,
        cache,
        after_ingest=ctx.followers(Hook.CRAWL_RUN_FINISHED),
    )
    # The job's own id (bound for its logs by the task layer) is its claim on the batch.
    return (await runner.run(uuid.UUID(run_id), job_id_var.get())).as_dict()


def _crawl_timeout(settings: Settings) -> int:
    return settings.crawl.job_timeout_s


@task(ProductJob.CRAWL_BATCH, Queue.DEFAULT, timeout_s=_crawl_timeout)
async def crawl_batch(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    """Crawl one planned batch through Apify and ingest its snapshots."""
    return await _crawl(ctx, run_id)


@task(ProductJob.REFRESH_BATCH, Queue.CRITICAL, timeout_s=_crawl_timeout)
async def refresh_batch(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    """A seller-initiated refresh: the same batch crawl, on the critical queue."""
    return await _crawl(ctx, run_id)


@task(ProductJob.REFRESH_READ_MODELS, Queue.DEFAULT, after=Hook.CRAWL_RUN_FINISHED)
async def refresh_read_models(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    """Write the new latest states into the cache and invalidate the affected sellers' lists."""
    async with ctx.unit_of_work() as uow:
        service = ProductMaintenance(uow, ReadCache(ctx.redis, ctx.settings.cache.ttl_s))
        return await service.refresh_read_models(uuid.UUID(run_id))


# Milliseconds of work every few seconds: on the critical queue so it never waits behind
# crawls or maintenance.
@task(ProductJob.RESEND_STALLED_BATCHES, Queue.CRITICAL)
async def resend_stalled_crawls(ctx: TaskContext) -> dict[str, Any]:
    """Queue again the crawl batches whose job stopped renewing its lease (a worker died)."""
    async with ctx.unit_of_work() as uow:
        count = await resend_stalled_batches(
            uow, ctx.settings, waiting=functools.partial(job_waiting, ctx.redis)
        )
    return {"resent": count}


@task(ProductJob.MAINTAIN_PARTITIONS, Queue.LOW)
async def maintain_partitions(ctx: TaskContext) -> dict[str, Any]:
    """Create snapshot partitions ahead and drop those past the retention window."""
    async with ctx.unit_of_work() as uow:
        return await ProductMaintenance(uow).maintain_partitions(
            ctx.settings.crawl.partitions_ahead_months, ctx.settings.crawl.retention_days
        )
