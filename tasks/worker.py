"""Worker processes: one ARQ worker per queue, several of them sharing one process.

A process serving every queue splits its concurrency 6:3:1 over critical/default/low, so a flood
of scheduled crawls can never starve user-initiated refreshes and alert deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from typing import Any

from arq import Worker
from arq.worker import func
from prometheus_client import start_http_server

from services.core.db import create_engine, create_sessionmaker
from services.core.heartbeat import beat, forget, worker_name
from services.core.jobs import Queue, create_arq_pool, deserialize, queue_key, serialize
from services.core.queue_stats import refresh_queue_gauges
from services.core.settings import Settings
from services.product.apify.client import ApifyGateway
from tasks.registry import ALL_TASKS
from tasks.runtime import TaskContext

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


def build_worker(queue: Queue, max_jobs: int, context: TaskContext) -> Worker:
    settings = context.settings
    functions = [
        func(t.fn, name=t.name, timeout=t.timeout_s)  # type: ignore[arg-type]
        for t in ALL_TASKS
        if t.queue is queue
    ]
    return Worker(
        functions=functions,
        queue_name=queue_key(queue),
        redis_pool=context.redis,
        max_jobs=max_jobs,
        job_timeout=settings.queue.job_timeout_s,
        max_tries=settings.queue.max_tries,
        handle_signals=False,
        ctx={"shelfwatch": context},
        job_serializer=serialize,
        job_deserializer=deserialize,
        keep_result=3600,
        poll_delay=0.2,
    )


async def _heartbeat(context: TaskContext, name: str, queues: list[str]) -> None:
    interval = max(1.0, context.settings.queue.heartbeat_ttl_s / 3)
    while True:
        try:
            await beat(context.redis, name, queues, context.settings.queue.heartbeat_ttl_s)
            await refresh_queue_gauges(context.redis)
        except Exception:  # Redis blips must not kill the worker; ARQ will notice real outages
            logger.warning("heartbeat failed", exc_info=True)
        await asyncio.sleep(interval)


async def run_workers(settings: Settings, queues: Sequence[Queue]) -> None:
    """Serve the given queues until SIGINT/SIGTERM, then stop taking jobs and exit."""
    engine = create_engine(settings)
    redis = await create_arq_pool(settings)
    context = TaskContext(
        settings, engine, create_sessionmaker(engine), redis, ApifyGateway(settings.apify)
    )
    # A queue with no task registered yet has nothing to serve (ARQ refuses an empty worker).
    served = [q for q in queues if any(t.queue is q for t in ALL_TASKS)]
    caps = capacities(settings, served)
    workers = [build_worker(q, n, context) for q, n in caps.items()]
    name = worker_name([q.value for q in caps])
    if settings.queue.metrics_port:
        with contextlib.suppress(OSError):  # another worker on this host already exports
            start_http_server(settings.queue.metrics_port, addr="127.0.0.1")
    logger.info(
        "worker started",
        extra={"worker": name, "capacity": {q.value: n for q, n in caps.items()}},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runners: list[asyncio.Task[Any]] = [asyncio.create_task(w.async_run()) for w in workers]
    runners.append(asyncio.create_task(_heartbeat(context, name, [q.value for q in caps])))
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
        # close() cancels in-flight jobs; ARQ puts them back on their queue to run again.
        for w in workers:
            with contextlib.suppress(Exception):
                await w.close()
        for task in runners:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        with contextlib.suppress(Exception):
            await redis.aclose()
        await engine.dispose()
        logger.info("worker stopped", extra={"worker": name})
