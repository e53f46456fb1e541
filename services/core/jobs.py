"""Queues, the JSON job serializer, and the buffer of the jobs a unit of work asks for (written to
the outbox with its commit, see services/core/outbox.py)."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix, job_key_prefix

from services.core.logging import request_id_var
from services.core.settings import Settings

logger = logging.getLogger(__name__)


class Queue(StrEnum):
    CRITICAL = "critical"
    DEFAULT = "default"
    LOW = "low"


class Hook(StrEnum):
    """Moments a module announces; other modules hang jobs on them (registered by the task
    layer), so the producer never names its consumers."""

    CRAWL_RUN_FINISHED = "crawl_run_finished"


def queue_key(queue: Queue) -> str:
    """The Redis key of a queue (ARQ's sorted set)."""
    return f"shelfwatch:queue:{queue.value}"


# Key under which the request id rides along with a job's arguments.
META_KWARG = "_meta"
# A failed job's stored traceback keeps its last characters (the innermost frames).
TRACEBACK_MAX_CHARS = 16_000


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, BaseException):
        # The traceback rides along so a failed job's result (and its dead-letter record) shows it.
        trace = "".join(traceback.format_exception(value))[-TRACEBACK_MAX_CHARS:]
        return {"type": type(value).__name__, "message": str(value), "traceback": trace}
    raise TypeError(f"cannot serialize {type(value).__name__} into a job")


def serialize(payload: dict[str, Any]) -> bytes:
    """JSON instead of pickle: a job payload can never execute code when read."""
    return json.dumps(payload, default=_default, separators=(",", ":")).encode()


def deserialize(raw: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(raw)
    return result


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def create_arq_pool(settings: Settings) -> ArqRedis:
    """A Redis pool that speaks ARQ's protocol with our serializer."""
    return await create_pool(
        redis_settings(settings.redis.url),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=queue_key(Queue.DEFAULT),
    )


@dataclass(frozen=True, slots=True)
class JobRequest:
    function: str
    queue: Queue
    kwargs: dict[str, Any]
    job_id: str | None = None
    defer_by_s: float | None = None


@dataclass
class JobBuffer:
    """Jobs asked for during a unit of work: written to the outbox in its transaction, relayed to
    Redis once the commit succeeded."""

    pending: list[JobRequest] = field(default_factory=list)

    def enqueue(
        self,
        function: str,
        *,
        queue: Queue,
        job_id: str | None = None,
        defer_by_s: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.pending.append(JobRequest(function, queue, kwargs, job_id, defer_by_s))

    def announce(
        self, hook: Hook, followers: Sequence[tuple[str, Queue]], key: str, **kwargs: Any
    ) -> None:
        """One job per follower of ``hook``, deduplicated per ``key``."""
        for function, queue in followers:
            self.enqueue(function, queue=queue, job_id=f"{function}:{key}", **kwargs)

    def discard(self) -> None:
        self.pending.clear()

    def take(self) -> list[JobRequest]:
        """The pending jobs, leaving the buffer empty."""
        requests, self.pending = self.pending, []
        return requests


async def send_job(redis: ArqRedis, request: JobRequest) -> str | None:
    """Enqueue one job now, outside any transaction (the scheduler's cron entries), carrying
    the current request id for its logs."""
    kwargs = dict(request.kwargs)
    kwargs[META_KWARG] = {"request_id": request_id_var.get()}

    job = await redis.enqueue_job(
        request.function,
        _job_id=request.job_id,
        _queue_name=queue_key(request.queue),
        _defer_by=request.defer_by_s,
        **kwargs,
    )
    if job is None:
        logger.info(
            "job already queued",
            extra={
                "function": request.function,
                "queue": request.queue.value,
                "job": request.job_id,
            },
        )
        return None
    return str(job.job_id)


async def job_waiting(redis: ArqRedis, job_id: str) -> bool:
    """Whether the job is queued (or deferred) in Redis and no worker has taken it yet: it is
    late because its queue is busy, not lost."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.exists(job_key_prefix + job_id)
        pipe.exists(in_progress_key_prefix + job_id)
        queued, taken = await pipe.execute()
    return bool(queued) and not taken
