"""Product module tasks: crawl planning, crawl batches, snapshot partition maintenance."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.core.jobs import Queue
from services.maintenance import resend_owed_jobs
from services.product.cache import ReadCache
from services.product.crawl import (
    CRAWL_BATCH_TASK,
    REFRESH_BATCH_TASK,
    CrawlBatchRunner,
    CrawlPlanner,
)
from services.product.partitions import PartitionManager
from services.product.read_models import refresh_after_ingest
from tasks.runtime import TaskContext, task


@task("product.plan_crawls", Queue.DEFAULT)
async def plan_crawls(ctx: TaskContext) -> dict[str, Any]:
    """Group every due product into batches and enqueue one crawl job per batch."""
    async with ctx.unit_of_work() as uow:
        result = await CrawlPlanner(uow, ctx.settings).plan()
    return {"products": result.products, "runs": len(result.runs)}


async def _crawl(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    cache = ReadCache(ctx.redis, ctx.settings.cache.ttl_s)
    runner = CrawlBatchRunner(ctx.unit_of_work, ctx.apify, ctx.settings, cache)
    return (await runner.run(uuid.UUID(run_id))).as_dict()


@task(CRAWL_BATCH_TASK, Queue.DEFAULT)
async def crawl_batch(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    """Crawl one planned batch through Apify and ingest its snapshots."""
    return await _crawl(ctx, run_id)


@task(REFRESH_BATCH_TASK, Queue.CRITICAL)
async def refresh_batch(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    """A seller-initiated refresh: the same batch crawl, on the critical queue."""
    return await _crawl(ctx, run_id)


@task("product.refresh_read_models", Queue.DEFAULT)
async def refresh_read_models(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    """Write the new latest states into the cache and invalidate the affected sellers' lists."""
    async with ctx.unit_of_work() as uow:
        return await refresh_after_ingest(uow, ctx.redis, ctx.settings, uuid.UUID(run_id))


@task("product.resend_owed_jobs", Queue.LOW)
async def resend_jobs(ctx: TaskContext) -> dict[str, Any]:
    """Queue again the crawl batches and deliveries whose job never reached Redis."""
    async with ctx.unit_of_work() as uow:
        count = await resend_owed_jobs(uow, timedelta(minutes=15))
    return {"resent": count}


@task("product.maintain_partitions", Queue.LOW)
async def maintain_partitions(ctx: TaskContext) -> dict[str, Any]:
    """Create snapshot partitions ahead and drop those past the retention window."""
    async with ctx.unit_of_work() as uow:
        manager = PartitionManager(uow.session)
        report = await manager.ensure_ahead(
            datetime.now(UTC).date(), ctx.settings.crawl.partitions_ahead_months
        )
        dropped = await manager.drop_older_than(ctx.settings.crawl.retention_days)
    return {"created": report.created, "moved_rows": report.moved_rows, "dropped": dropped}
