"""The admin service: queue control, the dead-letter archive and the audit log.

Every action an admin takes is written to the audit log in the request's transaction; a refused
action is recorded too (its error keeps the audit row while it answers 404/409).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.cron import next_cron
from arq.jobs import serialize_job

from services.admin.jobs import AdminJob
from services.admin.models import AuditEntry, DeadLetter
from services.admin.queues import (
    QueueStore,
    error_parts,
    public_kwargs,
    redact,
    request_id_of,
)
from services.admin.repository import AuditRepository, DeadLetterRepository
from services.admin.schemas import (
    AuditFilter,
    AuditRead,
    BulkActionResult,
    DeadLetterFilter,
    DeadLetterRead,
    JobActionResult,
    JobPage,
    JobRead,
    JobState,
    PauseRead,
    ProbeRequest,
    ProbeResult,
    QueueRead,
    RedisPrefix,
    RedisRead,
    ReplayResult,
    ScheduleRead,
    WorkerRead,
)
from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.jobs import META_KWARG, Queue, serialize
from services.core.logging import request_id_var
from services.core.metrics import JOBS_ARCHIVED
from services.core.settings import AdminSettings
from services.core.uow import UnitOfWork
from services.product.costs import CrawlCostService
from services.product.schemas import CrawlCostBreakdown

PROBE_FUNCTION = AdminJob.PROBE
BULK_CAP = 10_000


class RefusedNotFound(NotFound):
    keeps_changes = True  # the audit row of the refused action stays


class RefusedConflict(Conflict):
    keeps_changes = True


@dataclass(frozen=True, slots=True)
class Actor:
    id: uuid.UUID
    email: str


class DeadLetterService:
    """Archives failed jobs (called by workers) and purges old ones."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.repository = DeadLetterRepository(uow.session)

    async def archive(
        self,
        *,
        job_id: str,
        queue: Queue,
        function: str,
        args: list[Any],
        kwargs: dict[str, Any],
        tries: int,
        result: Any,
        enqueued_at: datetime | None,
        started_at: datetime | None,
        failed_at: datetime,
    ) -> uuid.UUID | None:
        """Store a job that exhausted its retries or failed for good (once per failure)."""
        kind, message, trace = error_parts(result)
        stored = await self.repository.add(
            {
                "job_id": job_id,
                "queue": queue.value,
                "function": function,
                "args": args,
                "kwargs": kwargs,
                "tries": tries,
                "error_type": kind[:200],
                "error": message,
                "traceback": trace,
                "request_id": request_id_of(kwargs),
                "enqueued_at": enqueued_at,
                "started_at": started_at,
                "failed_at": failed_at,
            }
        )
        if stored is not None:
            JOBS_ARCHIVED.labels(queue.value, function).inc()
        return stored

    async def purge(self, retention_days: int) -> int:
        """Delete archived jobs that failed before the retention window."""
        return await self.repository.delete_older_than(
            datetime.now(UTC) - timedelta(days=retention_days)
        )


def _cron_text(values: list[int] | None) -> str:
    return "*" if values is None else ",".join(str(v) for v in values)


class AdminService:
    """What an admin sees of, and does to, the background work."""

    def __init__(
        self,
        uow: UnitOfWork,
        store: QueueStore,
        settings: AdminSettings,
        actor: Actor,
    ) -> None:
        self.uow = uow
        self.store = store
        self.settings = settings
        self.actor = actor
        self.dead_letters = DeadLetterRepository(uow.session)
        self.audit_log = AuditRepository(uow.session)

    # -- audit --

    async def _audit(
        self,
        action: str,
        *,
        queue: Queue | None = None,
        job_id: str | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        refused: str | None = None,
    ) -> None:
        await self.audit_log.add(
            AuditEntry(
                actor_id=self.actor.id,
                actor_email=self.actor.email,
                action=action,
                queue=queue.value if queue else None,
                job_id=job_id,
                target=target,
                detail=detail or {},
                outcome="refused" if refused else "ok",
                message=refused,
            )
        )

    async def _refuse(
        self,
        error: type[RefusedNotFound | RefusedConflict],
        message: str,
        action: str,
        **where: Any,
    ) -> RefusedNotFound | RefusedConflict:
        """Record the refused action; the caller raises the returned error."""
        await self._audit(action, refused=message, **where)
        return error(message)

    async def audit(self, filters: AuditFilter) -> tuple[list[AuditRead], int]:
        """One page of the audit log, newest first, and its total: ``(items, total)``."""
        total, rows = await self.audit_log.page(
            action=filters.action, search=filters.q, offset=filters.offset, limit=filters.limit
        )
        return [AuditRead.model_validate(r) for r in rows], total

    # -- queues --

    async def queues(self) -> list[QueueRead]:
        """Every queue's counts, oldest ready job, last minutes' throughput and pause state."""
        archived = await self.dead_letters.count_by_queue()
        out = []
        for queue in Queue:
            c = await self.store.counts(queue)
            recent = c.minutes[-5:]
            done = sum(m.completed for m in recent)
            failed = sum(m.failed for m in recent)
            out.append(
                QueueRead(
                    name=queue,
                    queued=c.queued,
                    deferred=c.deferred,
                    in_progress=c.in_progress,
                    retrying=c.retrying,
                    failed=c.failed,
                    archived=archived.get(queue.value, 0),
                    completed=c.completed,
                    oldest_ready_age_s=c.oldest_ready_age_s,
                    paused=c.paused is not None,
                    paused_by=(c.paused or {}).get("by"),
                    paused_at=datetime.fromtimestamp(c.paused["at"], UTC) if c.paused else None,
                    throughput_per_min=round((done + failed) / len(recent), 2),
                    failure_rate=round(failed / (done + failed), 4) if done + failed else 0.0,
                    minutes=c.minutes,
                )
            )
        return out

    async def pause(self, queue: Queue) -> PauseRead:
        """Workers stop taking new jobs from the queue; running ones finish."""
        await self.store.pause(queue, self.actor.email)
        await self._audit("queue.pause", queue=queue)
        return PauseRead(queue=queue, paused=True)

    async def resume(self, queue: Queue) -> PauseRead:
        """Workers take jobs from the queue again."""
        was_paused = await self.store.resume(queue)
        await self._audit("queue.resume", queue=queue, detail={"was_paused": was_paused})
        return PauseRead(queue=queue, paused=False)

    # -- jobs --

    async def jobs(
        self,
        queue: Queue,
        state: JobState,
        *,
        function: str | None,
        job_id: str | None,
        offset: int,
        limit: int,
    ) -> JobPage:
        """One state's jobs of a queue, paged, optionally searched by function and id."""
        items, total, more = await self.store.list_jobs(
            queue, state, function=function, job_id=job_id, offset=offset, limit=limit
        )
        return JobPage(items=items, offset=offset, limit=limit, total=total, has_more=more)

    async def job(self, queue: Queue, job_id: str) -> JobRead:
        """One job with its arguments (secrets redacted), tries, times, result or traceback."""
        job = await self.store.get_job(queue, job_id)
        if job is None:
            raise NotFound("No such job in this queue (it may have expired)")
        return job

    async def run_now(self, queue: Queue, job_id: str) -> JobActionResult:
        """Make a deferred or retrying job due now."""
        where: dict[str, Any] = {"queue": queue, "job_id": job_id}
        if not await self.store.run_now(queue, job_id):
            raise await self._not_waiting("job.run_now", queue, job_id)
        await self._audit("job.run_now", **where)
        return JobActionResult(job_id=job_id, queue=queue, action="run_now", status="queued")

    async def _not_waiting(
        self, action: str, queue: Queue, job_id: str
    ) -> RefusedNotFound | RefusedConflict:
        where: dict[str, Any] = {"queue": queue, "job_id": job_id}
        if await self.store.is_running(job_id):
            return await self._refuse(RefusedConflict, "The job is running", action, **where)
        return await self._refuse(RefusedNotFound, "No waiting job with this id", action, **where)

    async def cancel(self, queue: Queue, job_id: str) -> JobActionResult:
        """Cancel a job: a waiting one leaves the queue unrun; a running one is aborted."""
        where: dict[str, Any] = {"queue": queue, "job_id": job_id}
        if await self.store.remove_waiting(queue, job_id):
            await self._audit("job.cancel", detail={"was": "waiting"}, **where)
            return JobActionResult(
                job_id=job_id,
                queue=queue,
                action="cancel",
                status="cancelled",
                detail="Removed from the queue before any worker started it.",
            )
        if await self.store.is_running(job_id):
            await self.store.abort_running(job_id)
            await self._audit("job.cancel", detail={"was": "running"}, **where)
            return JobActionResult(
                job_id=job_id,
                queue=queue,
                action="cancel",
                status="aborting",
                detail=(
                    "ARQ abort: the worker cancels the running task at its next poll; the job "
                    "ends failed with CancelledError, is not retried and not archived."
                ),
            )
        raise await self._refuse(
            RefusedNotFound, "No waiting or running job with this id", "job.cancel", **where
        )

    async def delete(self, queue: Queue, job_id: str) -> JobActionResult:
        """Delete a waiting job or a finished job's result; a running job must be cancelled."""
        where: dict[str, Any] = {"queue": queue, "job_id": job_id}
        if await self.store.remove_waiting(queue, job_id):
            status = "deleted"
        elif await self.store.is_running(job_id):
            raise await self._refuse(
                RefusedConflict, "The job is running; cancel it first", "job.delete", **where
            )
        elif await self.store.forget_result(queue, job_id):
            status = "result deleted"
        else:
            raise await self._refuse(RefusedNotFound, "No such job", "job.delete", **where)
        await self._audit("job.delete", detail={"status": status}, **where)
        return JobActionResult(job_id=job_id, queue=queue, action="delete", status=status)

    async def _retry_one(self, queue: Queue, job_id: str) -> bool:
        failed = await self.store.raw_failed(job_id)
        if failed is None:
            return False
        function, args, kwargs = failed
        await self.store.forget_result(queue, job_id)
        # Same id: the retried job replaces the failed one (ARQ refuses an id whose result
        # still exists, hence the result goes first).
        return await self.store.enqueue(queue, function, job_id, args, kwargs)

    async def retry(self, queue: Queue, job_id: str) -> JobActionResult:
        """Run a failed job again under the same id, from its first try."""
        where: dict[str, Any] = {"queue": queue, "job_id": job_id}
        if await self.store.failed_result(queue, job_id) is None:
            raise await self._refuse(
                RefusedNotFound, "No failed job with this id", "job.retry", **where
            )
        if not await self._retry_one(queue, job_id):
            raise await self._refuse(
                RefusedConflict, "The job could not be queued again", "job.retry", **where
            )
        await self._audit("job.retry", **where)
        return JobActionResult(job_id=job_id, queue=queue, action="retry", status="queued")

    async def retry_failed(self, queue: Queue, function: str | None) -> BulkActionResult:
        """Retry every failed job of a queue (of one function)."""
        ids = await self.store.failed_ids(queue, function, BULK_CAP)
        done = 0
        for job_id in ids:
            done += await self._retry_one(queue, job_id)
        await self._audit(
            "jobs.retry_failed", queue=queue, target=function, detail={"affected": done}
        )
        return BulkActionResult(queue=queue, function=function, action="retry", affected=done)

    async def delete_failed(self, queue: Queue, function: str | None) -> BulkActionResult:
        """Delete every failed result of a queue (of one function)."""
        ids = await self.store.failed_ids(queue, function, BULK_CAP)
        done = 0
        for job_id in ids:
            done += await self.store.forget_result(queue, job_id)
        await self._audit(
            "jobs.delete_failed", queue=queue, target=function, detail={"affected": done}
        )
        return BulkActionResult(queue=queue, function=function, action="delete", affected=done)

    async def send_probes(self, data: ProbeRequest) -> ProbeResult:
        """Send test jobs through a queue (sent after the audit row commits)."""
        stamp = int(time.time() * 1000)
        fail_until = time.time() + data.fail_for_s if data.fail != "none" else 0.0
        kwargs: dict[str, Any] = {
            "sleep_ms": data.sleep_ms,
            "fail": data.fail,
            "fail_until": fail_until,
        }
        ids = [f"probe:{data.queue.value}:{stamp}:{i}" for i in range(data.count)]
        # The request id rides along like on every job, so the probes' log lines link back.
        meta = {META_KWARG: {"request_id": request_id_var.get()}}
        payload = serialize_job(
            PROBE_FUNCTION, (), {**kwargs, **meta}, None, stamp, serializer=serialize
        )
        store = self.store

        async def send() -> None:
            await store.bulk_enqueue(data.queue, ids, payload)

        self.uow.after_commit.append(send)
        await self._audit("probe.send", queue=data.queue, detail={**kwargs, "count": data.count})
        return ProbeResult(queue=data.queue, sent=data.count, first_job_id=ids[0])

    # -- dead letters --

    async def dead_letters_page(
        self, filters: DeadLetterFilter
    ) -> tuple[list[DeadLetterRead], int]:
        """Archived jobs, newest failure first, secrets in arguments redacted, and their total."""
        total, rows = await self.dead_letters.page(
            queue=filters.queue.value if filters.queue else None,
            function=filters.function,
            search=filters.q,
            offset=filters.offset,
            limit=filters.limit,
        )
        return [self._dead_letter(r) for r in rows], total

    def _dead_letter(self, row: DeadLetter) -> DeadLetterRead:
        fields = {
            name: getattr(row, name)
            for name in DeadLetterRead.model_fields
            if name != "keyword_args"
        }
        fields["args"] = redact(row.args)
        fields["keyword_args"] = redact(public_kwargs(row.kwargs))
        return DeadLetterRead.model_validate(fields)

    async def dead_letter(self, dead_letter_id: uuid.UUID) -> DeadLetterRead:
        """One archived job."""
        row = await self.dead_letters.get(dead_letter_id)
        if row is None:
            raise NotFound("No such archived job")
        return self._dead_letter(row)

    async def replay(self, dead_letter_id: uuid.UUID) -> ReplayResult:
        """Enqueue an archived job again with the same arguments under a new deterministic id."""
        target = str(dead_letter_id)
        row = await self.dead_letters.get(dead_letter_id, for_update=True)
        if row is None:
            raise await self._refuse(
                RefusedNotFound, "No such archived job", "dead_letter.replay", target=target
            )
        if row.args:
            raise InvalidInput("Jobs with positional arguments cannot be replayed")
        queue = Queue(row.queue)
        # The n-th replay of an archive entry always gets the same id: a repeated request
        # racing this one is deduplicated by ARQ.
        job_id = f"replay:{row.id}:{row.replay_count + 1}"
        await self.dead_letters.mark_replayed(row, job_id, datetime.now(UTC))
        self.uow.jobs.enqueue(row.function, queue=queue, job_id=job_id, **public_kwargs(row.kwargs))
        await self._audit("dead_letter.replay", queue=queue, job_id=job_id, target=target)
        return ReplayResult(dead_letter_id=row.id, job_id=job_id, queue=queue, sent=True)

    async def delete_dead_letter(self, dead_letter_id: uuid.UUID) -> None:
        """Remove one archived job."""
        target = str(dead_letter_id)
        if not await self.dead_letters.delete(dead_letter_id):
            raise await self._refuse(
                RefusedNotFound, "No such archived job", "dead_letter.delete", target=target
            )
        await self._audit("dead_letter.delete", target=target)

    # -- workers, schedule, redis, costs --

    async def workers(self) -> list[WorkerRead]:
        """Worker processes: live ones, and recently gone ones marked as such."""
        out = []
        for w in await self.store.workers(self.settings.gone_worker_visible_s):
            out.append(
                WorkerRead(
                    name=w["name"],
                    alive=w["alive"],
                    host=w.get("host"),
                    pid=w.get("pid"),
                    queues=w.get("queues", []),
                    capacity=w.get("capacity", {}),
                    running=w.get("running", []),
                    completed=w.get("completed", 0),
                    failed=w.get("failed", 0),
                    retried=w.get("retried", 0),
                    started_at=datetime.fromtimestamp(w["started"], UTC)
                    if w.get("started")
                    else None,
                    last_heartbeat=datetime.fromtimestamp(w["at"], UTC),
                    heartbeat_age_s=round(w["age_s"], 1),
                )
            )
        return out

    async def schedule(self) -> list[ScheduleRead]:
        """Every cron entry with its last run, next run and last outcome."""
        last = await self.store.cron_last_runs()
        now = datetime.now(UTC)
        out = []
        for entry in await self.store.schedule_entries():
            run = last.get(entry.name)
            outcome = "never run"
            if run is not None:
                outcome = (
                    await self.store.job_outcome(entry.queue, run["job_id"])
                    if run["sent"]
                    else "skipped (same slot already queued)"
                )
            out.append(
                ScheduleRead(
                    name=entry.name,
                    function=entry.function,
                    queue=entry.queue,
                    cron=f"{_cron_text(entry.minute)} {_cron_text(entry.hour)} * * *",
                    last_run_at=datetime.fromtimestamp(run["at"], UTC) if run else None,
                    last_job_id=run["job_id"] if run else None,
                    last_outcome=outcome,
                    next_run_at=next_cron(
                        now,
                        minute=set(entry.minute) if entry.minute is not None else None,
                        hour=set(entry.hour) if entry.hour is not None else None,
                        microsecond=0,
                    ),
                )
            )
        return out

    async def trigger(self, name: str) -> JobActionResult:
        """Enqueue a cron entry's job now, outside its schedule."""
        entries = await self.store.schedule_entries()
        entry = next((s for s in entries if s.name == name), None)
        if entry is None:
            raise await self._refuse(
                RefusedNotFound, "No such schedule", "schedule.trigger", target=name
            )
        job_id = f"cron:{entry.function}:manual:{int(time.time())}"
        self.uow.jobs.enqueue(entry.function, queue=entry.queue, job_id=job_id)
        store = self.store

        async def remember() -> None:
            await store.record_cron_run(entry.name, job_id, sent=True, manual=True)

        self.uow.after_commit.append(remember)
        await self._audit("schedule.trigger", queue=entry.queue, job_id=job_id, target=name)
        return JobActionResult(job_id=job_id, queue=entry.queue, action="trigger", status="queued")

    async def redis(self) -> RedisRead:
        """Redis memory, clients and keys per prefix (SCAN, never KEYS)."""
        r = await self.store.redis_info(self.settings.redis_scan_max_keys)
        info = r["info"]
        return RedisRead(
            version=str(info.get("redis_version", "?")),
            used_memory_bytes=int(info.get("used_memory", 0)),
            used_memory_human=str(info.get("used_memory_human", "?")),
            peak_memory_human=str(info.get("used_memory_peak_human", "?")),
            connected_clients=int(info.get("connected_clients", 0)),
            blocked_clients=int(info.get("blocked_clients", 0)),
            total_keys=int(r["dbsize"]),
            keys_scanned=r["scanned"],
            scan_complete=r["complete"],
            prefixes=[RedisPrefix(prefix=p, keys=n) for p, n in r["prefixes"]],
        )

    async def crawl_costs(self, days: int) -> CrawlCostBreakdown:
        """Crawl cost per day and per product (the product module's numbers)."""
        return await CrawlCostService(self.uow.session).breakdown(days)
