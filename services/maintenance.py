"""Re-sends jobs whose records say they are still owed.

Jobs are sent to Redis right after their transaction commits; if Redis fails in that instant the
record (a queued crawl run, a pending delivery) exists without its job. Sending it again with
the same deterministic job id is harmless: ARQ refuses a second copy while one exists.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.alerts.detection import DELIVER_TASK, deliver_job_id
from services.alerts.models import Delivery
from services.core.jobs import Queue
from services.core.uow import UnitOfWork
from services.product.crawl import CRAWL_BATCH_TASK, REFRESH_BATCH_TASK, crawl_job_id
from services.product.models import CrawlRun, CrawlRunStatus


async def resend_owed_jobs(uow: UnitOfWork, older_than: timedelta, limit: int = 1000) -> int:
    """Queue again every queued/running crawl run and pending delivery older than ``older_than``."""
    cutoff = datetime.now(UTC) - older_than
    runs = (
        await uow.session.execute(
            select(CrawlRun.id, CrawlRun.trigger)
            .where(
                CrawlRun.status.in_([CrawlRunStatus.QUEUED.value, CrawlRunStatus.RUNNING.value]),
                CrawlRun.created_at < cutoff,
            )
            .limit(limit)
        )
    ).all()
    for run_id, trigger in runs:
        refresh = trigger == "refresh"
        task = REFRESH_BATCH_TASK if refresh else CRAWL_BATCH_TASK
        uow.jobs.enqueue(
            task,
            queue=Queue.CRITICAL if refresh else Queue.DEFAULT,
            job_id=crawl_job_id(run_id, task),
            run_id=str(run_id),
        )
    deliveries = (
        await uow.session.execute(
            select(Delivery.id)
            .where(Delivery.status == "pending", Delivery.created_at < cutoff)
            .limit(limit)
        )
    ).scalars()
    count = len(runs)
    for delivery_id in deliveries:
        uow.jobs.enqueue(
            DELIVER_TASK,
            queue=Queue.CRITICAL,
            job_id=deliver_job_id(delivery_id),
            delivery_id=str(delivery_id),
        )
        count += 1
    return count
