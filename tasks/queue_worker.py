"""ARQ's Worker with what the admin dashboard needs: pause, running/finished indexes, archive.

Only ARQ's documented hook points are extended (the poll iteration, run_job, finish_job and
finish_failed_job), each calling ARQ's own code unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from typing import Any

from arq import Worker
from arq.constants import result_key_prefix, retry_key_prefix
from arq.jobs import deserialize_result

from services.admin import keys
from services.admin.queues import (
    is_paused,
    record_outcome,
    record_started,
    record_stopped,
)
from services.admin.service import DeadLetterService
from services.core.jobs import Queue, deserialize

logger = logging.getLogger("tasks.worker")


class ShelfwatchWorker(Worker):
    """One queue's ARQ worker: stops picking jobs while its queue is paused, records running,
    retrying and finished jobs, and archives permanent failures in PostgreSQL."""

    def __init__(self, *args: Any, queue: Queue, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = queue
        # Jobs this worker cancelled because it was shutting down (ARQ runs them again).
        self.cancelled_by_shutdown: set[str] = set()

    def handle_sig(self, signum: signal.Signals) -> None:
        # close() comes through here: remember which running jobs the shutdown cancels.
        self.cancelled_by_shutdown.update(self.job_tasks)
        super().handle_sig(signum)

    async def _poll_iteration(self) -> None:
        # Read on every poll (one EXISTS), so a pause takes effect within poll_delay and a
        # worker started while its queue is paused never takes a job.
        self.allow_pick_jobs = not await is_paused(self.pool, self.queue)
        await super()._poll_iteration()

    async def run_job(self, job_id: str, score: int) -> None:
        await record_started(self.pool, self.queue, job_id)
        try:
            await super().run_job(job_id, score)
        finally:
            with contextlib.suppress(Exception):
                await record_stopped(self.pool, self.queue, job_id)

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        success = True
        if finish and result_data is not None:
            success = await self._archive_failure(job_id, result_data)
        if not finish and not incr_score and job_id in self.cancelled_by_shutdown:
            # ARQ counted this run as a try when it started it; a shutdown is not the job's
            # failure, so give the try back (a job restarted by deploys never runs out of tries).
            with contextlib.suppress(Exception):
                await self.pool.decr(retry_key_prefix + job_id)
            logger.info("job cancelled by shutdown, try not counted", extra={"job": job_id})
        await super().finish_job(
            job_id,
            finish,
            result_data,
            result_timeout_s,
            keep_result_forever,
            incr_score,
            keep_in_progress,
        )
        await self._record(job_id, finish, success, incr_score)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        # ARQ's path for jobs that never ran their function: tries exhausted (e.g. cancelled by
        # shutdowns), aborted before start, expired, unknown function.
        if result_data is not None:
            await self._archive_failure(job_id, result_data)
        await super().finish_failed_job(job_id, result_data)
        await self._record(job_id, True, False, None)

    async def _record(
        self, job_id: str, finish: bool, success: bool, incr_score: int | None
    ) -> None:
        try:
            await record_outcome(
                self.pool,
                self.queue,
                job_id,
                finished=finish,
                success=success,
                retry_due_ms=None if finish else (await self.pool.zscore(self.queue_name, job_id)),
                keep_result_s=self.keep_result_s,
            )
        except Exception:  # the dashboard's counters must never fail a job
            logger.warning("job outcome not recorded", exc_info=True, extra={"job": job_id})

    async def _archive_failure(self, job_id: str, result_data: bytes) -> bool:
        """Archive a failed result unless it was an abort; returns whether the job succeeded."""
        result = deserialize_result(result_data, deserializer=deserialize)
        if result.success:
            return True
        if isinstance(result.result, dict) and result.result.get("type") == "CancelledError":
            return False  # aborted by an admin: a decision, not a failure to keep
        context = self.ctx["shelfwatch"]
        try:
            async with context.unit_of_work() as uow:
                await DeadLetterService(uow).archive(
                    job_id=job_id,
                    queue=self.queue,
                    function=result.function,
                    args=list(result.args),
                    kwargs=dict(result.kwargs),
                    tries=result.job_try,
                    result=result.result,
                    enqueued_at=result.enqueue_time,
                    started_at=result.start_time,
                    failed_at=result.finish_time,
                )
        except Exception:
            # PostgreSQL away: the result stays in Redis; the heartbeat loop archives it later.
            logger.warning("archive deferred", exc_info=True, extra={"job": job_id})
            with contextlib.suppress(Exception):
                await self.pool.sadd(keys.ARCHIVE_PENDING, job_id)  # type: ignore[misc]
        return False

    async def archive_pending(self) -> int:
        """Archive failures whose first attempt found PostgreSQL away, while ARQ still keeps
        their result; returns how many were archived."""
        done = 0
        for raw in await self.pool.smembers(keys.ARCHIVE_PENDING):  # type: ignore[misc]
            job_id = raw.decode()
            data = await self.pool.get(result_key_prefix + job_id)
            if data is None:
                await self.pool.srem(keys.ARCHIVE_PENDING, job_id)  # type: ignore[misc]
                logger.error("failed job expired before it was archived", extra={"job": job_id})
                continue
            result = deserialize_result(data, deserializer=deserialize)
            if keys.queue_of(result.queue_name) is not self.queue:
                continue
            await self.pool.srem(keys.ARCHIVE_PENDING, job_id)  # type: ignore[misc]
            await self._archive_failure(job_id, data)
            done += 1
        return done

    def report(self) -> dict[str, Any]:
        """This worker's part of the process's registry entry."""
        return {
            "capacity": self.max_jobs,
            "running": sorted(self.job_tasks),
            "completed": self.jobs_complete,
            "failed": self.jobs_failed,
            "retried": self.jobs_retried,
        }
