"""The admin queue dashboard: pages over the same admin service as /api/v1/admin.

Every page is behind a class-level guard (anonymous visitors go to the sign-in page, sellers get
a 403 page); every form posts with the CSRF token and lands back with a flash notice.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

from litestar import Controller, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, PathParameter, QueryParameter
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field

from gateway.admin_access import admin_service_for
from gateway.dependencies import resources
from gateway.pagination import Offset
from gateway.web.kit import (
    AnyRequest,
    PageUser,
    flash,
    page,
    provide_page_user,
    read_form,
    redirect,
)
from services.admin.schemas import AuditFilter, DeadLetterFilter, JobState, ProbeRequest
from services.admin.service import AdminService
from services.core.errors import DomainError, PermissionDenied
from services.core.jobs import Queue
from services.core.uow import UnitOfWork

PAGE_SIZE = 50
JobId = Annotated[str, PathParameter(min_length=1, max_length=200)]
ScheduleName = Annotated[str, PathParameter(min_length=1, max_length=100)]
Text = Annotated[str | None, QueryParameter(max_length=200)]
StateParam = Annotated[JobState, QueryParameter(name="state")]
QueueFilter = Annotated[Queue | None, QueryParameter()]
Days = Annotated[int, QueryParameter(ge=1, le=400)]

TABS = [
    ("Queues", "/admin"),
    ("Dead letters", "/admin/dead-letters"),
    ("Workers", "/admin/workers"),
    ("Schedule", "/admin/schedule"),
    ("Redis", "/admin/redis"),
    ("Crawl cost", "/admin/costs"),
    ("Audit log", "/admin/audit"),
]
JOB_ACTIONS = {"run-now": "run_now", "cancel": "cancel", "retry": "retry", "delete": "delete"}
DONE = {
    "run_now": "Job {job} is due now.",
    "cancel": "Job {job}: {status}.",
    "retry": "Job {job} queued again.",
    "delete": "Job {job}: {status}.",
}


async def page_admin_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Admins only: anonymous visitors are sent to sign in, sellers get a 403 page."""
    user = await provide_page_user(cast(AnyRequest, connection), connection.app.state)
    if not user.is_admin:
        raise PermissionDenied("This page needs an admin account")


async def provide_pages_service(
    state: State, uow: NamedDependency[UnitOfWork], page_user: NamedDependency[PageUser]
) -> AdminService:
    # The guard already refused non-admins; checked again so this service never acts for one.
    if not page_user.is_admin:
        raise PermissionDenied("This page needs an admin account")
    return admin_service_for(resources(state), uow, page_user.user)


class BulkForm(BaseModel):
    function: str | None = Field(default=None, max_length=100)


def _admin_page(request: AnyRequest, template: str, me: PageUser, **context: Any) -> Template:
    return page(request, template, me, tabs=TABS, queues=[q.value for q in Queue], **context)


def _back(request: AnyRequest, default: str) -> Redirect:
    """Back to the page the form was on (same site only)."""
    referer = request.headers.get("referer", "")
    host = request.headers.get("host", "")
    marker = f"//{host}"
    if host and marker in referer:
        path = referer.split(marker, 1)[1]
        if path.startswith("/admin"):
            return redirect(path)
    return redirect(default)


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    guards = [page_admin_guard]
    dependencies = {"dashboard": Provide(provide_pages_service)}

    @get("/")
    async def overview(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
    ) -> Template:
        """Three queues with live counts, throughput charts, pause/resume and test jobs."""
        queues = await dashboard.queues()
        workers = await dashboard.workers()
        return _admin_page(
            request,
            "admin/queues.html",
            page_user,
            title="Queues",
            rows=queues,
            workers=workers,
            chart={
                q.name.value: {
                    "t": [int(m.minute.timestamp()) for m in q.minutes],
                    "completed": [m.completed for m in q.minutes],
                    "failed": [m.failed for m in q.minutes],
                }
                for q in queues
            },
            errors={},
            values={"queue": "low", "count": "100", "sleep_ms": "0", "fail": "none"},
        )

    @post("/queues/{queue:str}/pause")
    async def pause(
        self, request: AnyRequest, dashboard: NamedDependency[AdminService], queue: FromPath[Queue]
    ) -> Redirect:
        """Pause a queue."""
        await dashboard.pause(queue)
        flash(
            request,
            f"Queue {queue.value} paused: workers finish running jobs, take no new ones.",
            "success",
        )
        return _back(request, "/admin")

    @post("/queues/{queue:str}/resume")
    async def resume(
        self, request: AnyRequest, dashboard: NamedDependency[AdminService], queue: FromPath[Queue]
    ) -> Redirect:
        """Resume a queue."""
        await dashboard.resume(queue)
        flash(request, f"Queue {queue.value} resumed.", "success")
        return _back(request, "/admin")

    @post("/probes")
    async def probes(
        self, request: AnyRequest, dashboard: NamedDependency[AdminService]
    ) -> Redirect:
        """Send test jobs through a queue."""
        form = await read_form(request, ProbeRequest)
        if not form.ok or form.data is None:
            flash(
                request,
                "Test jobs: " + "; ".join(f"{k}: {v}" for k, v in form.errors.items()),
                "error",
            )
            return redirect("/admin")
        result = await dashboard.send_probes(form.data)
        flash(request, f"{result.sent} test job(s) sent to {result.queue.value}.", "success")
        return redirect("/admin")

    @get("/queues/{queue:str}")
    async def jobs(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
        queue: FromPath[Queue],
        job_state: StateParam = JobState.QUEUED,
        function: Text = None,
        job_id: Text = None,
        offset: Offset = 0,
    ) -> Template:
        """A queue's jobs by state, searchable by function and id, paged."""
        result = await dashboard.jobs(
            queue,
            job_state,
            function=function or None,
            job_id=job_id or None,
            offset=offset,
            limit=PAGE_SIZE,
        )
        counts = next(q for q in await dashboard.queues() if q.name is queue)
        return _admin_page(
            request,
            "admin/jobs.html",
            page_user,
            title=f"{queue.value} · {job_state.value.replace('_', ' ')}",
            queue=queue.value,
            q=counts,
            state=job_state.value,
            states=[s.value for s in JobState],
            result=result,
            function=function or "",
            job_id=job_id or "",
            offset=offset,
            page_size=PAGE_SIZE,
        )

    @get("/queues/{queue:str}/jobs/{job_id:str}")
    async def job(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
        queue: FromPath[Queue],
        job_id: JobId,
    ) -> Template:
        """One job: arguments, tries, times, result or error with traceback, request id."""
        found = await dashboard.job(queue, job_id)
        return _admin_page(
            request,
            "admin/job.html",
            page_user,
            title=f"Job {job_id}",
            job=found,
            queue=queue.value,
        )

    @post("/queues/{queue:str}/jobs/{job_id:str}/{action:str}")
    async def job_action(
        self,
        request: AnyRequest,
        dashboard: NamedDependency[AdminService],
        queue: FromPath[Queue],
        job_id: JobId,
        action: Annotated[str, PathParameter(pattern="^(run-now|cancel|retry|delete)$")],
    ) -> Redirect:
        """Run now, cancel, retry or delete one job."""
        method = JOB_ACTIONS[action]
        try:
            done = await getattr(dashboard, method)(queue, job_id)
        except DomainError as exc:  # refused: the audit row stays, the admin sees why
            flash(request, f"{action}: {exc.message}", "error")
            return _back(request, f"/admin/queues/{queue.value}")
        flash(request, DONE[method].format(job=job_id, status=done.status), "success")
        if method == "delete" or (method == "cancel" and done.status == "cancelled"):
            return redirect(f"/admin/queues/{queue.value}")
        return redirect(f"/admin/queues/{queue.value}/jobs/{job_id}")

    @post("/queues/{queue:str}/failed/{action:str}")
    async def bulk(
        self,
        request: AnyRequest,
        dashboard: NamedDependency[AdminService],
        queue: FromPath[Queue],
        action: Annotated[str, PathParameter(pattern="^(retry|delete)$")],
    ) -> Redirect:
        """Retry all / delete all failed jobs of a queue (and function)."""
        form = await read_form(request, BulkForm)
        function = (form.data.function if form.data else None) or None
        if action == "retry":
            result = await dashboard.retry_failed(queue, function)
        else:
            result = await dashboard.delete_failed(queue, function)
        what = f" of {function}" if function else ""
        flash(
            request,
            f"{result.affected} failed job(s){what} "
            + ("queued again." if action == "retry" else "deleted."),
            "success",
        )
        return redirect(f"/admin/queues/{queue.value}?state=failed")

    @get("/dead-letters")
    async def dead_letters(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
        queue: QueueFilter = None,
        function: Text = None,
        q: Text = None,
        offset: Offset = 0,
    ) -> Template:
        """The dead-letter archive: searchable, replayable, deletable."""
        filters = DeadLetterFilter(
            queue=queue, function=function or None, q=q or None, offset=offset, limit=PAGE_SIZE
        )
        result = filters.page(*await dashboard.dead_letters_page(filters))
        return _admin_page(
            request,
            "admin/dead_letters.html",
            page_user,
            title="Dead letters",
            result=result,
            queue=queue.value if queue else "",
            function=function or "",
            q=q or "",
            offset=offset,
            page_size=PAGE_SIZE,
        )

    @get("/dead-letters/{dead_letter_id:uuid}")
    async def dead_letter(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
        dead_letter_id: FromPath[uuid.UUID],
    ) -> Template:
        """One archived job with its traceback."""
        entry = await dashboard.dead_letter(dead_letter_id)
        return _admin_page(
            request, "admin/dead_letter.html", page_user, title="Archived job", d=entry
        )

    @post("/dead-letters/{dead_letter_id:uuid}/replay")
    async def replay(
        self,
        request: AnyRequest,
        dashboard: NamedDependency[AdminService],
        dead_letter_id: FromPath[uuid.UUID],
    ) -> Redirect:
        """Replay an archived job as a new job."""
        try:
            result = await dashboard.replay(dead_letter_id)
        except DomainError as exc:
            flash(request, f"Replay: {exc.message}", "error")
            return redirect("/admin/dead-letters")
        flash(request, f"Replayed as {result.job_id} on {result.queue.value}.", "success")
        return redirect(f"/admin/queues/{result.queue.value}/jobs/{result.job_id}")

    @post("/dead-letters/{dead_letter_id:uuid}/delete")
    async def delete_dead_letter(
        self,
        request: AnyRequest,
        dashboard: NamedDependency[AdminService],
        dead_letter_id: FromPath[uuid.UUID],
    ) -> Redirect:
        """Delete an archived job."""
        try:
            await dashboard.delete_dead_letter(dead_letter_id)
        except DomainError as exc:
            flash(request, f"Delete: {exc.message}", "error")
            return redirect("/admin/dead-letters")
        flash(request, "Archived job deleted.", "success")
        return redirect("/admin/dead-letters")

    @get("/workers")
    async def workers(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
    ) -> Template:
        """Worker processes and their heartbeats."""
        return _admin_page(
            request,
            "admin/workers.html",
            page_user,
            title="Workers",
            workers=await dashboard.workers(),
        )

    @get("/schedule")
    async def schedule(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
    ) -> Template:
        """Cron entries: last run, next run, last outcome."""
        return _admin_page(
            request,
            "admin/schedule.html",
            page_user,
            title="Schedule",
            entries=await dashboard.schedule(),
        )

    @post("/schedule/{name:str}/trigger")
    async def trigger(
        self, request: AnyRequest, dashboard: NamedDependency[AdminService], name: ScheduleName
    ) -> Redirect:
        """Run a cron entry now."""
        try:
            result = await dashboard.trigger(name)
        except DomainError as exc:
            flash(request, f"Trigger: {exc.message}", "error")
            return redirect("/admin/schedule")
        flash(request, f"{name} queued as {result.job_id}.", "success")
        return redirect("/admin/schedule")

    @get("/redis")
    async def redis(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
    ) -> Template:
        """Redis memory, clients and keys per prefix."""
        return _admin_page(
            request, "admin/redis.html", page_user, title="Redis", r=await dashboard.redis()
        )

    @get("/costs")
    async def costs(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
        days: Days = 30,
    ) -> Template:
        """Crawl cost per day and per product."""
        return _admin_page(
            request,
            "admin/costs.html",
            page_user,
            title="Crawl cost",
            c=await dashboard.crawl_costs(days),
            days=days,
        )

    @get("/audit")
    async def audit(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        dashboard: NamedDependency[AdminService],
        q: Text = None,
        offset: Offset = 0,
    ) -> Template:
        """Every admin action."""
        filters = AuditFilter(q=q or None, offset=offset, limit=PAGE_SIZE)
        result = filters.page(*await dashboard.audit(filters))
        return _admin_page(
            request,
            "admin/audit.html",
            page_user,
            title="Audit log",
            result=result,
            q=q or "",
            offset=offset,
            page_size=PAGE_SIZE,
        )
