"""The admin service, acting for the admin that ``requires_admin`` let through."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from gateway.dependencies import resources, signed_in_account
from gateway.state import Resources
from services.admin.queues import QueueStore
from services.admin.service import Actor, AdminService
from services.auth.models import User
from services.core.uow import UnitOfWork


def admin_service_for(res: Resources, uow: UnitOfWork, user: User) -> AdminService:
    """The admin service acting for one admin (the API's bearer or the pages' session user)."""
    return AdminService(
        uow,
        QueueStore(res.redis, res.settings.admin.result_retention_s),
        res.settings.admin,
        Actor(user.id, user.email),
    )


async def provide_admin_service(
    request: Request[Any, Any, Any], state: State, uow: NamedDependency[UnitOfWork]
) -> AdminService:
    # The class-level ``requires_admin`` guard already loaded this request's account (cached).
    return admin_service_for(resources(state), uow, await signed_in_account(request))
