"""Queue depth and the age of the oldest due job, read from ARQ's sorted sets."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from services.core.jobs import Queue, queue_key
from services.core.metrics import QUEUE_DEPTH, QUEUE_OLDEST_WAIT


async def queue_stats(redis: Redis) -> dict[str, dict[str, float]]:
    """Per queue: jobs waiting and how long the oldest due one has waited (seconds)."""
    now_ms = time.time() * 1000
    stats: dict[str, dict[str, float]] = {}
    for queue in Queue:
        key = queue_key(queue)
        depth = await redis.zcard(key)
        # ARQ scores a job by the time it becomes due, in milliseconds.
        oldest = await redis.zrangebyscore(key, "-inf", now_ms, start=0, num=1, withscores=True)
        wait = max(0.0, (now_ms - oldest[0][1]) / 1000) if oldest else 0.0
        stats[queue.value] = {"depth": float(depth), "oldest_wait_s": round(wait, 3)}
    return stats


async def refresh_queue_gauges(redis: Redis) -> None:
    for queue, values in (await queue_stats(redis)).items():
        QUEUE_DEPTH.labels(queue).set(values["depth"])
        QUEUE_OLDEST_WAIT.labels(queue).set(values["oldest_wait_s"])
