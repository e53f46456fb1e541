"""Alerts module tasks: change detection after ingest, deliveries, daily digests."""

from __future__ import annotations

import uuid
from typing import Any

from services.alerts.delivery import DeliveryRunner, DigestPlanner
from services.alerts.detection import DELIVER_TASK, ChangeDetector
from services.core.jobs import Queue
from tasks.runtime import TaskContext, task

DETECT_TASK = "alerts.detect_changes"


@task(DETECT_TASK, Queue.DEFAULT)
async def detect_changes(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    """Compare a crawl run's good snapshots with the previous ones and store the alerts."""
    async with ctx.unit_of_work() as uow:
        result = await ChangeDetector(uow, ctx.settings).detect_run(uuid.UUID(run_id))
    return {"compared": result.compared, "events": result.events, "deliveries": result.deliveries}


@task(DELIVER_TASK, Queue.CRITICAL)
async def deliver(ctx: TaskContext, delivery_id: str) -> dict[str, Any]:
    """Send one notification; transient failures retry with backoff."""
    runner = DeliveryRunner(ctx.unit_of_work, ctx.settings.alerts)
    return await runner.run(uuid.UUID(delivery_id))


@task("alerts.send_digests", Queue.CRITICAL)
async def send_digests(ctx: TaskContext) -> dict[str, Any]:
    """Queue one daily digest per digest-mode channel."""
    async with ctx.unit_of_work() as uow:
        created = await DigestPlanner(uow).plan()
    return {"digests": created}
