"""ARQ's Worker, kept alive through Redis outages.

ARQ's poll loop lets any Redis error escape, which ends ``Worker.main`` and with it the worker
or scheduler process. Here an outage error ends only that poll: the loop waits (with backoff)
and polls again, and redis-py opens fresh connections once the server answers. Only ARQ's
documented hook points are extended, each calling ARQ's own code.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from arq import Worker
from arq.constants import in_progress_key_prefix

from services.core.outage import OutageLog, is_transient

logger = logging.getLogger("tasks.worker")

# Waits between polls while Redis is away: short at first, then no more than this.
OUTAGE_BACKOFF_MAX_S = 5.0


class ResilientWorker(Worker):
    """A Worker whose poll loop survives PostgreSQL and Redis going away and coming back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._outage_log = OutageLog(logger)
        self._outage_polls = 0
        # Jobs whose bookkeeping failed half-way (their in-progress key would block them until
        # it expires, a job timeout later): released as soon as Redis answers again.
        self._to_release: set[str] = set()

    async def before_poll(self) -> None:
        """Called at the start of each poll, inside the outage handling (for subclasses)."""

    async def _poll_iteration(self) -> None:
        try:
            await self._release_stranded()
            await self.before_poll()
            await super()._poll_iteration()
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._outage_polls += 1
            self._outage_log.seen(
                "redis unavailable; worker keeps polling", exc, queue=self.queue_name
            )
            await asyncio.sleep(min(OUTAGE_BACKOFF_MAX_S, 0.25 * 2 ** min(self._outage_polls, 5)))
            return
        if self._outage_polls:
            logger.info(
                "redis back; worker resumed",
                extra={"queue": self.queue_name, "failed_polls": self._outage_polls},
            )
            self._outage_polls = 0

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except Exception as exc:
            if is_transient(exc):
                # ARQ counted the job it was claiming when Redis went away before any task
                # could hand the slot back; without this the worker loses one slot per outage.
                self.job_counter -= 1
                self.sem.release()
            raise

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except Exception as exc:
            if not is_transient(exc):
                raise
            # Redis went away while reading the job or storing its outcome: the job is still
            # on its queue under an in-progress mark. Dropping the mark once Redis is back lets
            # it run again now (jobs are safe to run twice) instead of a job timeout later.
            self._to_release.add(job_id)
            self._outage_log.seen("job bookkeeping failed; job will run again", exc, job=job_id)

    async def _release_stranded(self) -> None:
        for job_id in list(self._to_release):
            if job_id not in self.tasks or self.tasks[job_id].done():
                await self.pool.delete(in_progress_key_prefix + job_id)
            self._to_release.discard(job_id)

    async def run_cron(self, n: datetime, delay: float, num_windows: int = 2) -> None:
        planned = [job.next_run for job in self.cron_jobs]
        try:
            await super().run_cron(n, delay, num_windows)
        except Exception as exc:
            if is_transient(exc):
                # ARQ moved each entry to its next slot before the enqueue that failed: put
                # them back so the missed slot is sent once Redis answers (the slot's job id
                # keeps an entry that did get through from being sent twice).
                for job, next_run in zip(self.cron_jobs, planned, strict=True):
                    job.next_run = next_run
            raise
