"""Alerts module tasks: change detection after ingest, deliveries, daily digests."""

from __future__ import annotations

import uuid
from typing import Any

from services.alerts.delivery import DeliveryRunner, DigestPlanner
from services.alerts.detection import ChangeDetector
from services.alerts.jobs import AlertJob
from services.core.jobs import Hook, Queue
from services.core.read_cache import ReadCache
from tasks.runtime import TaskContext, task


@task(AlertJob.DETECT_CHANGES, Queue.DEFAULT, after=Hook.CRAWL_RUN_FINISHED)
async def detect_changes(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    """Compare a crawl run's good snapshots with the previous ones and store the alerts."""
    async with ctx.unit_of_work() as uow:
        cache = ReadCache(ctx.redis, ctx.settings.cache.ttl_s)
        result = await ChangeDetector(uow, ctx.settings, cache).detect_run(uuid.UUID(run_id))
    return {
        "compared": result.compared,
        "events": result.events,
        "ended": result.ended,
        "deliveries": result.deliveries,
    }


@task(AlertJob.DELIVER, Queue.CRITICAL)
async def deliver(ctx: TaskContext, delivery_id: str) -> dict[str, Any]:
    """Send one notification; transient failures retry with backoff."""
    runner = DeliveryRunner(ctx.unit_of_work, ctx.settings.alerts, ctx.settings.crawl)
    return await runner.run(uuid.UUID(delivery_id))


@task(AlertJob.SEND_DIGESTS, Queue.CRITICAL)
async def send_digests(ctx: TaskContext) -> dict[str, Any]:
    """Queue one daily digest (the morning brief) per digest-mode channel."""
    async with ctx.unit_of_work() as uow:
        created = await DigestPlanner(uow, ctx.settings).plan()
    return {"digests": created}
