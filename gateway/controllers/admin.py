"""Admin routes: accounts and plans, maintenance jobs."""

from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from gateway.dependencies import CurrentUser
from services.auth.repository import PlanRepository
from services.auth.schemas import PlanRead, UserAdminUpdate, UserRead
from services.auth.service import AuthService
from services.core.jobs import Queue
from services.core.uow import UnitOfWork


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

    @post("/maintenance/purge-tokens", status_code=202)
    async def purge_tokens(
        self, admin: NamedDependency[CurrentUser], uow: NamedDependency[UnitOfWork]
    ) -> dict[str, str]:
        """Queue the removal of expired refresh tokens on the low queue."""
        uow.jobs.enqueue(
            "auth.purge_expired_tokens", queue=Queue.LOW, job_id="auth.purge_expired_tokens"
        )
        return {"status": "queued", "queue": Queue.LOW.value}
