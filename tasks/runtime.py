"""What every task shares: its context, the unit of work, logging, metrics and retries."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from arq import Retry
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.core.jobs import META_KWARG, Hook, Queue
from services.core.logging import bound
from services.core.metrics import JOB_DURATION, JOB_RETRIES, JOBS
from services.core.outage import is_transient
from services.core.settings import Settings
from services.core.uow import UnitOfWork, unit_of_work
from services.llm import LlmService, OpenAIConnector
from services.product.apify.client import ApifyConnector

logger = logging.getLogger("tasks")


@dataclass
class TaskContext:
    """The long-lived resources of a worker process, shared by its jobs."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: ArqRedis
    apify: ApifyConnector
    # hook → (job, queue) of each task registered to follow it (built from the registry).
    hooks: Mapping[Hook, Sequence[tuple[str, Queue]]] = field(default_factory=dict)

    # Built on first use from settings.openai, so a worker that never asks an LLM opens nothing.
    openai: OpenAIConnector | None = field(default=None)

    def followers(self, hook: Hook) -> Sequence[tuple[str, Queue]]:
        return self.hooks.get(hook, ())

    def llm(self) -> LlmService:
        """The shared LLM layer, its transactions opened by this context."""
        if self.openai is None:
            self.openai = OpenAIConnector(self.settings.openai)
        return LlmService(self.unit_of_work, self.openai, self.redis)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        async with unit_of_work(self.sessionmaker, self.redis) as uow:
            yield uow


def retry_delay_s(job_try: int, base_s: float, max_s: float) -> float:
    """Exponential backoff with jitter: about base·2^(try-1), spread ±50 %, capped."""
    exp = min(max_s, base_s * (2 ** max(0, job_try - 1)))
    return float(min(max_s, exp * (0.5 + random.random())))


def _retries_left(settings: Settings, job_try: int, enqueued: datetime | None) -> bool:
    """Whether a try that failed on an outage gets another: below max_tries always; beyond it
    while the job was first queued less than ``outage_retry_s`` ago (up to the ceiling ARQ
    itself enforces)."""
    queue = settings.queue
    if job_try >= queue.try_ceiling():
        return False
    if job_try < queue.max_tries:
        return True
    if enqueued is None:
        return False
    return (datetime.now(UTC) - enqueued).total_seconds() < queue.outage_retry_s


TaskFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class TaskDef:
    name: str
    queue: Queue
    fn: TaskFn
    # Seconds, or derived from the settings when the worker is built (settings are never read
    # at import time).
    timeout_s: int | Callable[[Settings], int] | None = None
    # Enqueued (with the hook's arguments) each time this hook is announced.
    after: Hook | None = None

    def timeout(self, settings: Settings) -> int | None:
        """ARQ's timeout for this task under ``settings`` (None: the queue's default)."""
        return self.timeout_s(settings) if callable(self.timeout_s) else self.timeout_s


def task(
    name: str,
    queue: Queue,
    timeout_s: int | Callable[[Settings], int] | None = None,
    after: Hook | None = None,
) -> Callable[[TaskFn], TaskDef]:
    """Register a thin task: binds ids for its logs, counts it, turns transient errors (see
    ``services.core.outage``) into retries with backoff. The wrapped function gets
    (TaskContext, **kwargs)."""

    name = str(name)  # a module's job-name enum member, kept as its plain string

    def decorate(fn: TaskFn) -> TaskDef:
        @functools.wraps(fn)
        async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
            meta = kwargs.pop(META_KWARG, None) or {}
            context: TaskContext = ctx["shelfwatch"]
            job_try = int(ctx.get("job_try", 1))
            with bound(job_id=ctx.get("job_id"), request_id=meta.get("request_id")):
                started = time.perf_counter()
                extra = {"function": name, "queue": queue.value, "job_try": job_try}
                logger.info("job started", extra=extra)
                outcome = "failed"
                try:
                    result = await fn(context, **kwargs)
                    outcome = "succeeded"
                    return result
                except Exception as exc:
                    if not is_transient(exc):
                        logger.exception("job failed", extra=extra)
                        raise
                    # A server away (PostgreSQL, Redis, an upstream): says nothing about the
                    # job's input, so it is retried with backoff rather than failed.
                    if not _retries_left(context.settings, job_try, ctx.get("enqueue_time")):
                        logger.error(
                            "job gave up after retries",
                            extra={**extra, "error": str(exc), "error_type": type(exc).__name__},
                        )
                        raise
                    delay = retry_delay_s(
                        job_try,
                        context.settings.queue.retry_base_delay_s,
                        context.settings.queue.retry_max_delay_s,
                    )
                    outcome = "retried"
                    JOB_RETRIES.labels(queue.value, name).inc()
                    logger.warning(
                        "job will retry",
                        extra={
                            **extra,
                            "error": str(exc)[:300],
                            "error_type": type(exc).__name__,
                            "retry_in_s": delay,
                        },
                    )
                    raise Retry(defer=delay) from exc
                except asyncio.CancelledError:
                    # A shutdown or an admin's abort: neither is the job failing.
                    outcome = "cancelled"
                    raise
                finally:
                    duration = time.perf_counter() - started
                    JOBS.labels(queue.value, name, outcome).inc()
                    JOB_DURATION.labels(queue.value, name).observe(duration)
                    logger.info(
                        "job finished",
                        extra={
                            **extra,
                            "outcome": outcome,
                            "duration_ms": round(duration * 1000, 2),
                        },
                    )

        return TaskDef(name=name, queue=queue, fn=run, timeout_s=timeout_s, after=after)

    return decorate
