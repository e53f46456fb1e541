"""Request-scoped dependencies: the unit of work, the signed-in user, the services."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from redis.exceptions import RedisError

from gateway.state import Resources
from services.auth.models import Role, User
from services.auth.service import AuthService, revoked_access_key
from services.auth.tokens import AccessClaims, decode_access_token
from services.core.errors import NotAuthenticated, PermissionDenied
from services.core.logging import user_id_var
from services.core.uow import UnitOfWork, unit_of_work

logger = logging.getLogger(__name__)


def resources(state: State) -> Resources:
    res: Resources = state.resources
    return res


async def provide_uow(state: State) -> AsyncGenerator[UnitOfWork, None]:
    """One transaction per request: committed on success, rolled back on any error."""
    res = resources(state)
    async with unit_of_work(res.sessionmaker, res.redis) as uow:
        yield uow


async def provide_auth_service(state: State, uow: NamedDependency[UnitOfWork]) -> AuthService:
    res = resources(state)
    return AuthService(uow.session, res.redis, res.settings.auth)


@dataclass(frozen=True, slots=True)
class CurrentUser:
    user: User
    claims: AccessClaims

    @property
    def id(self) -> Any:
        return self.user.id


def bearer_token(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("A bearer access token is required", code="not_authenticated")
    return token.strip()


_CURRENT_USER = "shelfwatch.current_user"


async def provide_current_user(request: Request[Any, Any, Any], state: State) -> CurrentUser:
    """The seller behind the bearer token; 401 for a missing, bad, expired or revoked token."""
    known = cast("CurrentUser | None", request.scope.get(_CURRENT_USER))
    return known if known is not None else await authenticate(request)


async def authenticate(request: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser:
    """Check the bearer token and load its account (once per request)."""
    res = resources(request.app.state)
    claims = decode_access_token(res.settings.auth, bearer_token(request))
    try:
        revoked = bool(await res.redis.exists(revoked_access_key(claims.jti)))
    except (RedisError, OSError):
        # Reads must keep working while Redis is away; a revoked token lives 15 minutes at most.
        logger.warning("revocation check unavailable; token accepted on its signature")
        revoked = False
    if revoked:
        raise NotAuthenticated("The access token was revoked", code="token_revoked")
    # Its own short session, not the request's unit of work: Litestar does not close generator
    # dependencies when a later one raises, so a refusal here must not hold a connection.
    async with res.sessionmaker() as session:
        user = await AuthService(session, res.redis, res.settings.auth).find_active_user(
            claims.user_id
        )
    if user is None:
        raise NotAuthenticated("The account is no longer active", code="account_disabled")
    request.scope["state"]["user_id"] = str(user.id)
    user_id_var.set(str(user.id))
    current = CurrentUser(user=user, claims=claims)
    request.scope[_CURRENT_USER] = current  # type: ignore[literal-required]
    return current


async def requires_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard of the admin routes: 401 without a valid token, 403 for a non-admin account."""
    current = await authenticate(connection)
    if current.user.role != Role.ADMIN:
        raise PermissionDenied("This needs an admin account")


DEPENDENCIES = {
    "uow": Provide(provide_uow),
    "auth_service": Provide(provide_auth_service),
    "current_user": Provide(provide_current_user),
}
