"""Worker processes: one ARQ worker per queue, several of them sharing one process.

A process serving every queue splits its concurrency 6:3:1 over critical/default/low, so a flood
of scheduled crawls can never starve user-initiated refreshes and alert deliveries; ``low`` also
borrows the slots the other two leave idle, never the ones they use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence
from typing import Any

from arq.worker import func
from prometheus_client import start_http_server

from services.admin.queues import mark_worker_stopped, refresh_admin_gauges, report_worker
from services.core.db import create_engine, create_sessionmaker
from services.core.heartbeat import beat, forget, worker_name
from services.core.jobs import Queue, create_arq_pool, deserialize, queue_key, serialize
from services.core.queue_stats import refresh_queue_gauges
from services.core.settings import Settings
from services.product.apify.client import ApifyConnector
from tasks.queue_worker import ShelfwatchWorker
from tasks.registry import ALL_TASKS, hooks
from tasks.runtime import TaskContext, TaskDef

logger = logging.getLogger("tasks.worker")

QUEUE_ORDER = (Queue.CRITICAL, Queue.DEFAULT, Queue.LOW)


def capacities(settings: Settings, queues: Sequence[Queue]) -> dict[Queue, int]:
    """Concurrency per queue: the weighted share of the total, at least one each."""
    weights = dict(zip(QUEUE_ORDER, settings.queue.weights, strict=True))
    chosen = [q for q in QUEUE_ORDER if q in queues]
    total_weight = sum(weights[q] for q in chosen)
    return {
        q: max(1, round(settings.queue.concurrency * weights[q] / total_weight)) for q in chosen
    }


def build_worker(
    queue: Queue,
    max_jobs: int,
    context: TaskContext,
    tasks: Sequence[TaskDef] = ALL_TASKS,
    borrow_up_to: int | None = None,
) -> ShelfwatchWorker:
    settings = context.settings
    functions = [
        func(t.fn, name=t.name, timeout=t.timeout(settings))  # type: ignore[arg-type]
        for t in tasks
        if t.queue is queue
    ]
    return ShelfwatchWorker(
        queue=queue,
        borrow_up_to=borrow_up_to,
        functions=functions,
        queue_name=queue_key(queue),
        redis_pool=context.redis,
        max_jobs=max_jobs,
        job_timeout=settings.queue.job_timeout_s,
        # ARQ's own count of tries only stops a job past the outage window (see runtime.task).
        max_tries=settings.queue.try_ceiling(),
        handle_signals=False,
        ctx={"shelfwatch": context},
        job_serializer=serialize,
        job_deserializer=deserialize,
        keep_result=settings.admin.result_retention_s,
        poll_delay=0.2,
        # Lets an admin cancel a running job (ARQ's Job.abort: the task is cancelled).
        allow_abort_jobs=True,
    )


async def _heartbeat(
    context: TaskContext, name: str, queues: list[str], workers: Sequence[ShelfwatchWorker] = ()
) -> None:
    # Often enough for the dashboard's live running jobs, well inside the heartbeat's TTL.
    interval = min(2.0, max(1.0, context.settings.queue.heartbeat_ttl_s / 3))
    started = time.time()
    while True:
        try:
            await beat(context.redis, name, queues, context.settings.queue.heartbeat_ttl_s)
            await refresh_queue_gauges(context.redis)
            await report_worker(context.redis, worker_report(name, started, workers))
            await refresh_admin_gauges(context.redis)
            for w in workers:
                await w.archive_pending()
        except Exception:  # Redis blips must not kill the worker; ARQ will notice real outages
            logger.warning("heartbeat failed", exc_info=True)
        await asyncio.sleep(interval)


def worker_report(name: str, started: float, workers: Sequence[ShelfwatchWorker]) -> dict[str, Any]:
    """The process's registry entry: its queues with capacity, running jobs and counts."""
    parts = [(w.queue.value, w.report()) for w in workers]
    return {
        "name": name,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "at": time.time(),
        "started": started,
        "queues": [q for q, _ in parts],
        "capacity": {q: p["capacity"] for q, p in parts},
        "running": [job for _, p in parts for job in p["running"]],
        "completed": sum(p["completed"] for _, p in parts),
        "failed": sum(p["failed"] for _, p in parts),
        "retried": sum(p["retried"] for _, p in parts),
    }


async def run_workers(
    settings: Settings, queues: Sequence[Queue], tasks: Sequence[TaskDef] = ALL_TASKS
) -> None:
    """Serve the given queues until SIGINT/SIGTERM, then stop taking jobs and exit. ``tasks``
    defaults to every registered task (the queue benchmark adds its no-op ones)."""
    engine = create_engine(settings)
    redis = await create_arq_pool(settings)
    context = TaskContext(
        settings,
        engine,
        create_sessionmaker(engine),
        redis,
        ApifyConnector(settings.apify),
        hooks(list(tasks)),
    )
    # A queue with no task registered yet has nothing to serve (ARQ refuses an empty worker).
    served = [q for q in queues if any(t.queue is q for t in tasks)]
    caps = capacities(settings, served)
    workers = [
        # ``low`` may also run on the slots critical and default leave idle, up to the process's
        # total: a backlog of scheduled work drains at the machine's pace on a quiet worker.
        build_worker(q, n, context, tasks, settings.queue.concurrency if q is Queue.LOW else None)
        for q, n in caps.items()
    ]
    for w in workers:
        if w.queue is Queue.LOW:
            w.lend_from(workers)
    name = worker_name([q.value for q in caps])
    if settings.queue.metrics_port:
        with contextlib.suppress(OSError):  # another worker on this host already exports
            start_http_server(settings.queue.metrics_port, addr=settings.queue.metrics_host)
    logger.info(
        "worker started",
        extra={"worker": name, "capacity": {q.value: n for q, n in caps.items()}},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runners: list[asyncio.Task[Any]] = [asyncio.create_task(w.async_run()) for w in workers]
    runners.append(asyncio.create_task(_heartbeat(context, name, [q.value for q in caps], workers)))
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([stopper, *runners], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        logger.info("worker stopping", extra={"worker": name})
        stopper.cancel()
        runners[-1].cancel()  # the heartbeat
        with contextlib.suppress(Exception):
            await forget(redis, name)
            await mark_worker_stopped(redis, name)
        # close() cancels in-flight jobs; ARQ puts them back on their queue to run again.
        for w in workers:
            with contextlib.suppress(Exception):
                await w.close()
        for task in runners:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        with contextlib.suppress(Exception):
            await redis.aclose()
        if context.openai is not None:
            await context.openai.aclose()
        await engine.dispose()
        logger.info("worker stopped", extra={"worker": name})
