"""Admin routes: accounts and plans, maintenance jobs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.dependencies import CurrentUser
from services.auth.repository import PlanRepository
from services.auth.schemas import PlanRead, UserAdminUpdate, UserRead
from services.auth.service import AuthService
from services.core.jobs import Queue
from services.core.uow import UnitOfWork
from services.product.repository import CrawlRunRepository
from services.product.schemas import CrawlCostSummary, CrawlRunRead


class AdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]

    @get("/plans")
    async def list_plans(
        self, admin: NamedDependency[CurrentUser], uow: NamedDependency[UnitOfWork]
    ) -> list[PlanRead]:
        """Every plan with its quota and rate limit."""
        return [PlanRead.model_validate(p) for p in await PlanRepository(uow.session).list()]

    @get("/users/{user_id:uuid}")
    async def get_user(
        self,
        admin: NamedDependency[CurrentUser],
        auth_service: NamedDependency[AuthService],
        user_id: FromPath[uuid.UUID],
    ) -> UserRead:
        """One account."""
        return UserRead.model_validate(await auth_service.get_user(user_id))

    @patch("/users/{user_id:uuid}")
    async def update_user(
        self,
        admin: NamedDependency[CurrentUser],
        auth_service: NamedDependency[AuthService],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[UserAdminUpdate],
    ) -> UserRead:
        """Assign a plan, change the role, or disable an account."""
        return UserRead.model_validate(await auth_service.update_user(user_id, data))

    @get("/crawl-runs")
    async def crawl_runs(
        self,
        admin: NamedDependency[CurrentUser],
        uow: NamedDependency[UnitOfWork],
        days: Annotated[int, QueryParameter(ge=1, le=400)] = 7,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    ) -> CrawlCostSummary:
        """Actor runs of the last days with their totals: what crawling costs."""
        runs = CrawlRunRepository(uow.session)
        count, asins, items, failed, missing, cost = await runs.totals_since(
            datetime.now(UTC) - timedelta(days=days)
        )
        return CrawlCostSummary(
            runs=count,
            asins=asins,
            items=items,
            failed=failed,
            missing=missing,
            cost_usd=cost,
            runs_list=[CrawlRunRead.model_validate(r) for r in await runs.recent(limit)],
        )

    @post("/maintenance/purge-tokens", status_code=202)
    async def purge_tokens(
        self, admin: NamedDependency[CurrentUser], uow: NamedDependency[UnitOfWork]
    ) -> dict[str, str]:
        """Queue the removal of expired refresh tokens on the low queue."""
        uow.jobs.enqueue(
            "auth.purge_expired_tokens", queue=Queue.LOW, job_id="auth.purge_expired_tokens"
        )
        return {"status": "queued", "queue": Queue.LOW.value}
