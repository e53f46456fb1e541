"""Admin JSON API over the background work: queues, jobs, archive, workers, schedule, Redis,
crawl cost and the audit log. Every route is behind the admin guard."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from gateway.admin_access import provide_admin_service
from gateway.dependencies import requires_admin
from gateway.pagination import Limit, Offset
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
    RedisRead,
    ReplayResult,
    ScheduleRead,
    WorkerRead,
)
from services.admin.service import AdminService
from services.core.jobs import Queue
from services.core.pagination import Page
from services.product.schemas import CrawlCostBreakdown

JobId = Annotated[str, PathParameter(min_length=1, max_length=200)]
ScheduleName = Annotated[str, PathParameter(min_length=1, max_length=100)]
StateParam = Annotated[JobState, QueryParameter(name="state")]
QueueFilter = Annotated[Queue | None, QueryParameter()]
Search = Annotated[str | None, QueryParameter(min_length=1, max_length=200)]
FunctionName = Annotated[str | None, QueryParameter(min_length=1, max_length=100)]


async def provide_dead_letter_filter(
    queue: QueueFilter = None,
    function: FunctionName = None,
    q: Search = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> DeadLetterFilter:
    """The dead-letter list's query string as its one filter model."""
    return DeadLetterFilter(queue=queue, function=function, q=q, offset=offset, limit=limit)


async def provide_audit_filter(
    action: FunctionName = None, q: Search = None, offset: Offset = 0, limit: Limit = 50
) -> AuditFilter:
    """The audit list's query string as its one filter model."""
    return AuditFilter(action=action, q=q, offset=offset, limit=limit)


class QueueAdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin: queues"]
    guards = [requires_admin]
    dependencies = {"admin_service": Provide(provide_admin_service)}

    @get("/queues")
    async def queues(self, admin_service: NamedDependency[AdminService]) -> list[QueueRead]:
        """Every queue's counts, oldest ready job, throughput, failure rate and pause state."""
        return await admin_service.queues()

    @post("/queues/{queue:str}/pause", status_code=200)
    async def pause(
        self, admin_service: NamedDependency[AdminService], queue: FromPath[Queue]
    ) -> PauseRead:
        """Pause a queue: workers take no new job from it, running jobs finish."""
        return await admin_service.pause(queue)

    @post("/queues/{queue:str}/resume", status_code=200)
    async def resume(
        self, admin_service: NamedDependency[AdminService], queue: FromPath[Queue]
    ) -> PauseRead:
        """Resume a paused queue."""
        return await admin_service.resume(queue)

    @get("/queues/{queue:str}/jobs")
    async def jobs(
        self,
        admin_service: NamedDependency[AdminService],
        queue: FromPath[Queue],
        job_state: StateParam = JobState.QUEUED,
        function: FunctionName = None,
        job_id: Search = None,
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> JobPage:
        """A queue's jobs in one state, paged; search by function and by id."""
        return await admin_service.jobs(
            queue, job_state, function=function, job_id=job_id, offset=offset, limit=limit
        )

    @get("/queues/{queue:str}/jobs/{job_id:str}")
    async def job(
        self, admin_service: NamedDependency[AdminService], queue: FromPath[Queue], job_id: JobId
    ) -> JobRead:
        """One job: function, arguments (secrets redacted), tries, times, result or traceback."""
        return await admin_service.job(queue, job_id)

    @post("/queues/{queue:str}/jobs/{job_id:str}/run-now", status_code=200)
    async def run_now(
        self, admin_service: NamedDependency[AdminService], queue: FromPath[Queue], job_id: JobId
    ) -> JobActionResult:
        """Make a deferred or retrying job due now."""
        return await admin_service.run_now(queue, job_id)

    @post("/queues/{queue:str}/jobs/{job_id:str}/cancel", status_code=200)
    async def cancel(
        self, admin_service: NamedDependency[AdminService], queue: FromPath[Queue], job_id: JobId
    ) -> JobActionResult:
        """Cancel a waiting job (it never runs) or abort a running one (ARQ abort)."""
        return await admin_service.cancel(queue, job_id)

    @post("/queues/{queue:str}/jobs/{job_id:str}/retry", status_code=200)
    async def retry(
        self, admin_service: NamedDependency[AdminService], queue: FromPath[Queue], job_id: JobId
    ) -> JobActionResult:
        """Run a failed job again under its id."""
        return await admin_service.retry(queue, job_id)

    @delete("/queues/{queue:str}/jobs/{job_id:str}", status_code=200)
    async def delete_job(
        self, admin_service: NamedDependency[AdminService], queue: FromPath[Queue], job_id: JobId
    ) -> JobActionResult:
        """Delete a waiting job or a finished job's result."""
        return await admin_service.delete(queue, job_id)

    @post("/queues/{queue:str}/failed/retry", status_code=200)
    async def retry_failed(
        self,
        admin_service: NamedDependency[AdminService],
        queue: FromPath[Queue],
        function: FunctionName = None,
    ) -> BulkActionResult:
        """Retry all failed jobs of a queue (optionally of one function)."""
        return await admin_service.retry_failed(queue, function)

    @post("/queues/{queue:str}/failed/delete", status_code=200)
    async def delete_failed(
        self,
        admin_service: NamedDependency[AdminService],
        queue: FromPath[Queue],
        function: FunctionName = None,
    ) -> BulkActionResult:
        """Delete all failed jobs of a queue (optionally of one function)."""
        return await admin_service.delete_failed(queue, function)

    @post("/probes", status_code=202)
    async def probes(
        self, admin_service: NamedDependency[AdminService], data: JSONBody[ProbeRequest]
    ) -> ProbeResult:
        """Send test jobs through a queue (up to 10 000: a flood on purpose)."""
        return await admin_service.send_probes(data)

    @get("/dead-letters", dependencies={"filters": Provide(provide_dead_letter_filter)})
    async def dead_letters(
        self,
        admin_service: NamedDependency[AdminService],
        filters: NamedDependency[DeadLetterFilter],
    ) -> Page[DeadLetterRead]:
        """The dead-letter archive, newest failure first; search by id, function or error."""
        items, total = await admin_service.dead_letters_page(filters)
        return filters.page(items, total)

    @get("/dead-letters/{dead_letter_id:uuid}")
    async def dead_letter(
        self, admin_service: NamedDependency[AdminService], dead_letter_id: FromPath[uuid.UUID]
    ) -> DeadLetterRead:
        """One archived job with its error and traceback."""
        return await admin_service.dead_letter(dead_letter_id)

    @post("/dead-letters/{dead_letter_id:uuid}/replay", status_code=202)
    async def replay(
        self, admin_service: NamedDependency[AdminService], dead_letter_id: FromPath[uuid.UUID]
    ) -> ReplayResult:
        """Enqueue an archived job again: same arguments, new deterministic id."""
        return await admin_service.replay(dead_letter_id)

    @delete("/dead-letters/{dead_letter_id:uuid}", status_code=204)
    async def delete_dead_letter(
        self, admin_service: NamedDependency[AdminService], dead_letter_id: FromPath[uuid.UUID]
    ) -> None:
        """Remove an archived job."""
        await admin_service.delete_dead_letter(dead_letter_id)

    @get("/workers")
    async def workers(self, admin_service: NamedDependency[AdminService]) -> list[WorkerRead]:
        """Worker processes: queues, capacity, running jobs, counts, last heartbeat."""
        return await admin_service.workers()

    @get("/schedule")
    async def schedule(self, admin_service: NamedDependency[AdminService]) -> list[ScheduleRead]:
        """Every cron entry with its last run, next run and last outcome."""
        return await admin_service.schedule()

    @post("/schedule/{name:str}/trigger", status_code=202)
    async def trigger(
        self, admin_service: NamedDependency[AdminService], name: ScheduleName
    ) -> JobActionResult:
        """Enqueue a cron entry's job now."""
        return await admin_service.trigger(name)

    @get("/redis")
    async def redis(self, admin_service: NamedDependency[AdminService]) -> RedisRead:
        """Redis memory, clients and keys per prefix (SCAN)."""
        return await admin_service.redis()

    @get("/crawl-costs")
    async def crawl_costs(
        self,
        admin_service: NamedDependency[AdminService],
        days: Annotated[int, QueryParameter(ge=1, le=400)] = 30,
    ) -> CrawlCostBreakdown:
        """Crawl cost per day and per product, with a 30-day projection per product."""
        return await admin_service.crawl_costs(days)

    @get("/audit", dependencies={"filters": Provide(provide_audit_filter)})
    async def audit(
        self,
        admin_service: NamedDependency[AdminService],
        filters: NamedDependency[AuditFilter],
    ) -> Page[AuditRead]:
        """Every admin action: who, what, when, on which queue/job, and the outcome."""
        items, total = await admin_service.audit(filters)
        return filters.page(items, total)
