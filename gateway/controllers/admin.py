"""Admin routes: accounts and plans, crawl costs, maintenance jobs."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.dependencies import requires_admin
from gateway.pagination import Limit, Offset
from services.auth.jobs import AuthJob
from services.auth.schemas import PlanFilter, PlanRead, UserAdminUpdate, UserRead
from services.auth.service import AuthService
from services.core.jobs import Queue
from services.core.pagination import Page
from services.core.uow import UnitOfWork
from services.product.costs import CrawlCostService
from services.product.schemas import CrawlCostSummary


async def provide_plan_filter(limit: Limit = 50, offset: Offset = 0) -> PlanFilter:
    """The plan list's paging."""
    return PlanFilter(limit=limit, offset=offset)


async def provide_crawl_cost_service(uow: NamedDependency[UnitOfWork]) -> CrawlCostService:
    return CrawlCostService(uow.session)


class AdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    guards = [requires_admin]
    dependencies = {"crawl_cost_service": Provide(provide_crawl_cost_service)}

    @get("/plans", dependencies={"filters": Provide(provide_plan_filter)})
    async def list_plans(
        self, auth_service: NamedDependency[AuthService], filters: NamedDependency[PlanFilter]
    ) -> Page[PlanRead]:
        """Every plan with its quota and rate limit, smallest quota first."""
        items, total = await auth_service.list_plans(filters)
        return filters.page(items, total)

    @get("/users/{user_id:uuid}")
    async def get_user(
        self, auth_service: NamedDependency[AuthService], user_id: FromPath[uuid.UUID]
    ) -> UserRead:
        """One account."""
        return UserRead.model_validate(await auth_service.get_user(user_id))

    @patch("/users/{user_id:uuid}")
    async def update_user(
        self,
        auth_service: NamedDependency[AuthService],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[UserAdminUpdate],
    ) -> UserRead:
        """Assign a plan, change the role, or disable an account."""
        return UserRead.model_validate(await auth_service.update_user(user_id, data))

    @get("/crawl-runs")
    async def crawl_runs(
        self,
        crawl_cost_service: NamedDependency[CrawlCostService],
        days: Annotated[int, QueryParameter(ge=1, le=400)] = 7,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    ) -> CrawlCostSummary:
        """Actor runs of the last days with their totals: what crawling costs."""
        return await crawl_cost_service.summary(days, limit)

    @post("/maintenance/purge-tokens", status_code=202)
    async def purge_tokens(self, uow: NamedDependency[UnitOfWork]) -> dict[str, str]:
        """Queue the removal of expired refresh tokens on the low queue."""
        uow.jobs.enqueue(
            AuthJob.PURGE_EXPIRED_TOKENS,
            queue=Queue.LOW,
            job_id=AuthJob.PURGE_EXPIRED_TOKENS.value,
        )
        return {"status": "queued", "queue": Queue.LOW.value}
