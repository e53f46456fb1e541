"""The cron process: ARQ cron entries that only enqueue work for the workers, and the outbox relay
loop that sends the jobs committed to PostgreSQL but not yet in Redis.

Each entry enqueues with a job id derived from its time slot, and ARQ runs a cron entry once per
slot across processes, so two schedulers running side by side enqueue nothing twice; their relay
loops lock the rows they send (SKIP LOCKED), so they never send one row at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from arq.cron import CronJob, cron
from prometheus_client import start_http_server

from services.admin.jobs import AdminJob
from services.admin.queues import publish_schedule, record_cron_run
from services.admin.schemas import ScheduleEntry
from services.alerts.jobs import AlertJob
from services.auth.jobs import AuthJob
from services.core.db import create_engine, create_sessionmaker
from services.core.jobs import JobRequest, Queue, create_arq_pool, deserialize, send_job, serialize
from services.core.outbox import run_relay_loop
from services.core.settings import Settings
from services.core.worker_loop import ResilientWorker
from services.optimization.jobs import OptimizationJob
from services.product.jobs import ProductJob

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
    # Only for sub-minute schedules; ARQ's default runs an entry at second 0.
    second: set[int] | int | None = 0
    # Also enqueue once when the scheduler starts (deduplicated by the slot's job id).
    at_startup: bool = False


def schedules(settings: Settings) -> list[Schedule]:
    every = settings.crawl.plan_interval_minutes
    return [
        Schedule(
            "plan-crawls",
            ProductJob.PLAN_CRAWLS,
            Queue.DEFAULT,
            every * 60,
            minute=set(range(0, 60, every)),
            at_startup=True,
        ),
        Schedule(
            "maintain-partitions",
            ProductJob.MAINTAIN_PARTITIONS,
            Queue.LOW,
            86_400,
            minute=7,
            hour=2,
            at_startup=True,
        ),
        Schedule(
            "resend-stalled-batches",
            ProductJob.RESEND_STALLED_BATCHES,
            Queue.CRITICAL,
            settings.crawl.stalled_check_s,
            second=set(range(0, 60, settings.crawl.stalled_check_s)),
        ),
        Schedule(
            "purge-tokens", AuthJob.PURGE_EXPIRED_TOKENS, Queue.LOW, 86_400, minute=17, hour=3
        ),
        Schedule(
            "purge-dead-letters",
            AdminJob.PURGE_DEAD_LETTERS,
            Queue.LOW,
            86_400,
            minute=37,
            hour=3,
        ),
        Schedule(
            "alert-digests",
            AlertJob.SEND_DIGESTS,
            Queue.CRITICAL,
            86_400,
            minute=0,
            hour=settings.alerts.digest_hour_utc,
        ),
        Schedule(
            "evaluate-experiments",
            OptimizationJob.EVALUATE_DUE_EXPERIMENTS,
            Queue.LOW,
            3600,
            minute=41,
            at_startup=True,
        ),
    ]


def _as_list(value: set[int] | int | None) -> list[int] | None:
    if value is None:
        return None
    return sorted(value) if isinstance(value, set) else [value]


def schedule_entries(settings: Settings) -> list[ScheduleEntry]:
    """The cron entries in the admin module's vocabulary."""
    return [
        ScheduleEntry(
            name=s.name,
            function=s.function,
            queue=s.queue,
            minute=_as_list(s.minute),
            hour=_as_list(s.hour),
        )
        for s in schedules(settings)
    ]


def slot_job_id(schedule: Schedule, now: float) -> str:
    return f"cron:{schedule.function}:{int(now // schedule.slot_s)}"


def make_enqueuer(schedule: Schedule) -> Callable[[dict[str, Any]], Awaitable[str | None]]:
    async def enqueue(ctx: dict[str, Any]) -> str | None:
        job_id = slot_job_id(schedule, time.time())
        sent = await send_job(
            ctx["redis"], JobRequest(schedule.function, schedule.queue, {}, job_id)
        )
        try:  # for the admin's schedule view; never worth failing the enqueue over
            await record_cron_run(ctx["redis"], schedule.name, job_id, sent is not None, False)
        except Exception:
            logger.warning("cron run not recorded", exc_info=True)
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
            second=s.second,
            unique=True,
            run_at_startup=s.at_startup,
        )
        for s in schedules(settings)
    ]


async def run_scheduler(settings: Settings) -> None:
    """Run the cron entries and the outbox relay loop until SIGINT/SIGTERM."""
    redis = await create_arq_pool(settings)
    engine = create_engine(settings)
    queue = settings.queue
    if queue.scheduler_metrics_port:
        with contextlib.suppress(OSError):  # another scheduler on this host already exports
            start_http_server(queue.scheduler_metrics_port, addr=queue.metrics_host)
    # Keeps polling through Redis outages; a slot missed meanwhile is sent once Redis is back.
    worker = ResilientWorker(
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
    try:  # the admin's schedule view shows exactly what this scheduler runs
        await publish_schedule(redis, schedule_entries(settings))
    except Exception:
        logger.warning("schedule not published", exc_info=True)
    logger.info("scheduler started", extra={"schedules": [s.name for s in schedules(settings)]})
    runner = asyncio.create_task(worker.async_run())
    relay = asyncio.create_task(
        run_relay_loop(
            create_sessionmaker(engine),
            redis,
            interval_s=queue.outbox_relay_interval_s,
            older_than_s=queue.outbox_relay_after_s,
            batch=queue.outbox_relay_batch,
        )
    )
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([runner, relay, stopper], return_when=asyncio.FIRST_COMPLETED)
    # The cron runner or the relay ending on its own is a crash (outages are handled inside
    # both): say so and exit non-zero, so a supervisor restarts the scheduler.
    crashed = [
        exc for t in (runner, relay) if t.done() and not t.cancelled() and (exc := t.exception())
    ]
    stopper.cancel()
    relay.cancel()
    with contextlib.suppress(Exception):  # Redis may be the thing that is away
        await worker.close()
    runner.cancel()
    await asyncio.gather(runner, relay, return_exceptions=True)
    await engine.dispose()
    for exc in crashed:
        logger.error("scheduler stopped by an error", exc_info=exc)
    if crashed:
        raise SystemExit(1)
    logger.info("scheduler stopped")
