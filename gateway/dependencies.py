"""Request-scoped dependencies: the unit of work, the signed-in user, the services."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
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
from services.auth.service import (
    AuthService,
    disabled_before,
    token_check_keys,
    token_refusal,
)
from services.auth.tokens import AccessClaims, decode_access_token
from services.core.errors import NotAuthenticated, PermissionDenied
from services.core.logging import user_id_var
from services.core.read_cache import CachedView, ReadCache, ViewLookup
from services.core.uow import UnitOfWork, unit_of_work

logger = logging.getLogger(__name__)


def resources(state: State) -> Resources:
    res: Resources = state.resources
    return res


def read_cache(state: State, found: ViewLookup | None = None) -> ReadCache:
    """The Redis read cache of one request (with the edge's lookup for it, if any)."""
    res = resources(state)
    return ReadCache(res.redis, res.settings.cache.ttl_s, found)


async def provide_uow(state: State) -> AsyncGenerator[UnitOfWork, None]:
    """One transaction per request: committed on success, rolled back on any error."""
    res = resources(state)
    async with unit_of_work(res.sessionmaker, res.redis) as uow:
        yield uow


async def provide_signed_in_uow(
    state: State, current_user: NamedDependency[CurrentUser]
) -> AsyncGenerator[UnitOfWork, None]:
    """``provide_uow`` for the routes of a signed-in seller: opened once the token passed.
    Depending on ``current_user`` keeps such a route's dependencies one chain: Litestar resolves
    dependencies that do not depend on each other in an anyio task group, which costs a
    request ~0.15 ms of CPU (bench/read_floor.py), more than resolving them in turn."""
    del current_user  # resolved first; nothing else needed from it here
    res = resources(state)
    async with unit_of_work(res.sessionmaker, res.redis) as uow:
        yield uow


async def provide_auth_service(state: State, uow: NamedDependency[UnitOfWork]) -> AuthService:
    res = resources(state)
    return AuthService(uow.session, res.redis, res.settings.auth)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The account a verified, unrevoked token of an active account speaks for. The modules
    behind the API need only its id, so authenticating reads no database row."""

    id: uuid.UUID
    role: str


@dataclass(frozen=True, slots=True)
class CurrentUser:
    user: SignedIn
    claims: AccessClaims

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


@dataclass(frozen=True, slots=True)
class EdgeVerdict:
    """The edge's verdict on a request's bearer token: its claims and whether Redis found the
    token revoked or its account disabled, read in the rate limiter's round trip."""

    claims: AccessClaims
    revoked: bool
    disabled: bool


def bearer_token(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("A bearer access token is required", code="not_authenticated")
    return token.strip()


_CURRENT_USER = "shelfwatch.current_user"
_ACCOUNT = "shelfwatch.account"
EDGE_VERDICT = "shelfwatch.edge_verdict"
EDGE_LOOKUP = "shelfwatch.edge_lookup"

# A cached route declares its view in its ``opt`` under this name: a function of the signed-in
# seller's id, the path parameters and the query string giving the view the route will answer
# from (None when this request's answer is not cached, or the query cannot be read). The edge
# then reads the view's entry in the round trip that counts the request and checks its token.
READ_VIEW = "read_view"
ReadViewOf = Callable[[uuid.UUID, Mapping[str, Any], str], CachedView | None]


def edge_lookup(connection: ASGIConnection[Any, Any, Any, Any]) -> ViewLookup | None:
    """The cached route's entry as the edge read it for this request, if it did."""
    return cast("ViewLookup | None", connection.scope.get(EDGE_LOOKUP))


async def provide_current_user(request: Request[Any, Any, Any]) -> CurrentUser:
    """The seller behind the bearer token; 401 for a missing, bad, expired or revoked token."""
    known = cast("CurrentUser | None", request.scope.get(_CURRENT_USER))
    return known if known is not None else await authenticate(request)


async def _check_token(res: Resources, claims: AccessClaims) -> tuple[bool, bool] | None:
    """(revoked, disabled) in one round trip; None when Redis cannot say."""
    try:
        revoked, disabled_mark = await res.redis.mget(token_check_keys(claims))
    except (RedisError, OSError):
        return None
    return revoked is not None, disabled_before(claims, disabled_mark)


async def authenticate(request: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser:
    """Check the bearer token and its account (once per request): signature and expiry here,
    revocation and the account's disabled mark in Redis (usually already read by the rate
    limiter in its round trip), PostgreSQL only when Redis cannot answer."""
    res = resources(request.app.state)
    token = bearer_token(request)
    checked = cast("EdgeVerdict | None", request.scope.get(EDGE_VERDICT))
    verdict: tuple[bool, bool] | None
    if checked is not None:
        claims, verdict = checked.claims, (checked.revoked, checked.disabled)
    else:
        claims = decode_access_token(res.settings.auth, token)
        verdict = await _check_token(res, claims)
    if verdict is None:
        # Reads must keep working while Redis is away: the row says whether the account is
        # active; a revoked token lives 15 minutes at most.
        logger.warning("revocation check unavailable; token accepted on its signature")
        if await _load_account(request, claims.user_id) is None:
            raise NotAuthenticated("The account is no longer active", code="account_disabled")
    else:
        refusal = token_refusal(*verdict)
        if refusal is not None:
            raise refusal
    request.scope["state"]["user_id"] = str(claims.user_id)
    user_id_var.set(str(claims.user_id))
    current = CurrentUser(user=SignedIn(claims.user_id, claims.role), claims=claims)
    request.scope[_CURRENT_USER] = current  # type: ignore[literal-required]
    return current


async def _load_account(
    request: ASGIConnection[Any, Any, Any, Any], user_id: uuid.UUID
) -> User | None:
    known = cast("User | None", request.scope.get(_ACCOUNT))
    if known is not None:
        return known
    res = resources(request.app.state)
    # Its own short session, not the request's unit of work: Litestar does not close generator
    # dependencies when a later one raises, so a refusal here must not hold a connection.
    async with res.sessionmaker() as session:
        user = await AuthService(session, res.redis, res.settings.auth).find_active_user(user_id)
    if user is not None:
        request.scope[_ACCOUNT] = user  # type: ignore[literal-required]
    return user


async def signed_in_account(request: ASGIConnection[Any, Any, Any, Any]) -> User:
    """The full account row of the signed-in user, for the few routes that show or check more
    than its id (``/me``, the admin routes); read once per request."""
    current = await authenticate(request)
    user = await _load_account(request, current.id)
    if user is None:
        raise NotAuthenticated("The account is no longer active", code="account_disabled")
    return user


async def requires_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard of the admin routes: 401 without a valid token, 403 for a non-admin account."""
    # The role is read from the row, not the token: a demoted admin loses access at once.
    account = await signed_in_account(connection)
    if account.role != Role.ADMIN:
        raise PermissionDenied("This needs an admin account")


DEPENDENCIES = {
    "uow": Provide(provide_uow),
    "auth_service": Provide(provide_auth_service),
    "current_user": Provide(provide_current_user),
}
