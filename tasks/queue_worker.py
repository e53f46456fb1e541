"""ARQ's Worker with what the admin dashboard needs: pause, running/finished indexes, archive.

Only ARQ's documented hook points are extended (the poll iteration, run_job, finish_job and
finish_failed_job), each calling ARQ's own code unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

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
from services.core.worker_loop import ResilientWorker

logger = logging.getLogger("tasks.worker")


class ShelfwatchWorker(ResilientWorker):
    """One queue's ARQ worker: stops picking jobs while its queue is paused, records running,
    retrying and finished jobs, archives permanent failures in PostgreSQL, and keeps polling
    through Redis outages."""

    def __init__(
        self, *args: Any, queue: Queue, borrow_up_to: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.queue = queue
        # Jobs this worker cancelled because it was shutting down (ARQ runs them again).
        self.cancelled_by_shutdown: set[str] = set()
        self._fetched = 0
        self._pause_checked_at = -1.0
        # The queue's own share of the process's concurrency; ``max_jobs`` becomes the share
        # plus whatever the lenders leave idle, recomputed before every poll.
        self.share = self.max_jobs
        self.borrow_up_to = max(self.share, borrow_up_to or 0)
        # ARQ sizes its semaphore from max_jobs at construction: size it for the ceiling.
        self.sem = asyncio.BoundedSemaphore(self.borrow_up_to + 1)
        self.lenders: list[ShelfwatchWorker] = []

    def handle_sig(self, signum: signal.Signals) -> None:
        # close() comes through here: remember which running jobs the shutdown cancels.
        self.cancelled_by_shutdown.update(self.job_tasks)
        super().handle_sig(signum)

    def lend_from(self, workers: list[ShelfwatchWorker]) -> None:
        """Let this queue use the idle slots of these (the other queues of the process)."""
        self.lenders = [w for w in workers if w is not self]

    def _allowance(self) -> int:
        """The share, plus the lenders' slots that no job of theirs is using right now. A
        lender's slots are never taken from it: its own semaphore is untouched, so a critical
        job arriving starts at once (the process runs over its total for as long as the
        borrowed jobs take), and no new job is borrowed while the lender is busy."""
        spare = sum(max(0, w.share - w.job_counter) for w in self.lenders)
        return min(self.borrow_up_to, self.share + spare)

    async def before_poll(self) -> None:
        # One EXISTS at most every poll_delay (inside the outage handling of ResilientWorker),
        # so a pause takes effect within it and a worker started while its queue is paused
        # never takes a job.
        now = asyncio.get_running_loop().time()
        if now - self._pause_checked_at >= self.poll_delay_s:
            self.allow_pick_jobs = not await is_paused(self.pool, self.queue)
            self._pause_checked_at = now
        self._fetched = 0
        self.max_jobs = self._allowance()

    async def _poll_iteration(self) -> None:
        """One poll, then, while the queue keeps handing out ready jobs, the next one as soon
        as a slot frees instead of after poll_delay.

        ARQ starts at most ``max_jobs`` jobs per poll and then sleeps poll_delay: a queue with
        one slot (``low`` in the 6:3:1 split) would drain five short jobs a second whatever the
        machine could do. Draining slot by slot keeps the queue's share of concurrency as it
        is (its jobs never run more than ``max_jobs`` at once, other queues keep their own
        slots) and only removes the idle wait between jobs."""
        while True:
            await super()._poll_iteration()
            if not self._fetched or not self.allow_pick_jobs or not self.tasks:
                return  # nothing ready (or paused): ARQ sleeps poll_delay before the next poll
            # Ready work is waiting: poll again when a running job ends, or at the usual
            # tick when none ends within poll_delay (long jobs gain nothing from hurrying).
            running = [t for t in self.tasks.values() if not t.done()]
            if len(running) >= self.max_jobs:
                done, _ = await asyncio.wait(
                    running, timeout=self.poll_delay_s, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    return

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # Count the jobs this poll actually started, not the ids Redis handed out: a running
        # job stays in its queue's sorted set, so every poll returns it again, and counting it
        # would make the worker poll without pause for as long as any job runs.
        self._fetched = 0
        before = len(self.tasks)
        await super().start_jobs(job_ids)
        self._fetched = len(self.tasks) - before

    async def run_job(self, job_id: str, score: int) -> None:
        with contextlib.suppress(Exception):  # the dashboard's index must never stop a job
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
            "capacity": self.share,
            "running": sorted(self.job_tasks),
            "completed": self.jobs_complete,
            "failed": self.jobs_failed,
            "retried": self.jobs_retried,
        }
