"""The cron process: ARQ cron entries that only enqueue work for the workers.

Each entry enqueues with a job id derived from its time slot, and ARQ runs a cron entry once per
slot across processes, so two schedulers running side by side enqueue nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from arq import Worker
from arq.cron import CronJob, cron

from services.core.jobs import JobRequest, Queue, create_arq_pool, deserialize, send_job, serialize
from services.core.settings import Settings

logger = logging.getLogger("scheduler")

SCHEDULER_QUEUE = "shelfwatch:queue:scheduler"


@dataclass(frozen=True)
class Schedule:
    """One recurring job: what to enqueue, where, and how often (a slot length in seconds)."""

    name: str
    function: str
    queue: Queue
    slot_s: int
    minute: set[int] | int | None = None
    hour: set[int] | int | None = None
    # Also enqueue once when the scheduler starts (deduplicated by the slot's job id).
    at_startup: bool = False


def schedules(settings: Settings) -> list[Schedule]:
    every = settings.crawl.plan_interval_minutes
    return [
        Schedule(
            "plan-crawls",
            "product.plan_crawls",
            Queue.DEFAULT,
            every * 60,
            minute=set(range(0, 60, every)),
            at_startup=True,
        ),
        Schedule(
            "maintain-partitions",
            "product.maintain_partitions",
            Queue.LOW,
            86_400,
            minute=7,
            hour=2,
            at_startup=True,
        ),
        Schedule(
            "resend-owed-jobs",
            "product.resend_owed_jobs",
            Queue.LOW,
            600,
            minute=set(range(3, 60, 10)),
        ),
        Schedule("purge-tokens", "auth.purge_expired_tokens", Queue.LOW, 86_400, minute=17, hour=3),
        Schedule(
            "alert-digests",
            "alerts.send_digests",
            Queue.CRITICAL,
            86_400,
            minute=0,
            hour=settings.alerts.digest_hour_utc,
        ),
    ]


def slot_job_id(schedule: Schedule, now: float) -> str:
    return f"cron:{schedule.function}:{int(now // schedule.slot_s)}"


def make_enqueuer(schedule: Schedule) -> Callable[[dict[str, Any]], Awaitable[str | None]]:
    async def enqueue(ctx: dict[str, Any]) -> str | None:
        job_id = slot_job_id(schedule, time.time())
        sent = await send_job(
            ctx["redis"], JobRequest(schedule.function, schedule.queue, {}, job_id)
        )
        logger.info(
            "scheduled",
            extra={
                "schedule": schedule.name,
                "function": schedule.function,
                "job": job_id,
                "sent": sent is not None,
            },
        )
        return sent

    enqueue.__qualname__ = enqueue.__name__ = f"cron_{schedule.name.replace('-', '_')}"
    return enqueue


def cron_jobs(settings: Settings) -> list[CronJob]:
    return [
        cron(
            make_enqueuer(s),  # type: ignore[arg-type]
            name=f"cron:{s.name}",
            minute=s.minute,
            hour=s.hour,
            unique=True,
            run_at_startup=s.at_startup,
        )
        for s in schedules(settings)
    ]


async def run_scheduler(settings: Settings) -> None:
    """Run the cron entries until SIGINT/SIGTERM."""
    redis = await create_arq_pool(settings)
    worker = Worker(
        functions=[],
        cron_jobs=cron_jobs(settings),
        queue_name=SCHEDULER_QUEUE,
        redis_pool=redis,
        handle_signals=False,
        job_serializer=serialize,
        job_deserializer=deserialize,
        keep_result=0,
        max_jobs=4,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logger.info("scheduler started", extra={"schedules": [s.name for s in schedules(settings)]})
    runner = asyncio.create_task(worker.async_run())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([runner, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    await worker.close()
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    logger.info("scheduler stopped")
