"""Auth module routes: register, login, refresh, logout, me."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import JSONBody

from gateway.dependencies import CurrentUser, signed_in_account
from services.auth.schemas import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
)
from services.auth.service import AuthService

# Token answers must never be stored by a browser or a proxy cache (RFC 6749 §5.1).
NO_STORE = CacheControlHeader(no_store=True)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/register", status_code=201)
    async def register(
        self, data: JSONBody[UserCreate], auth_service: NamedDependency[AuthService]
    ) -> UserRead:
        """Create a seller account on the default plan."""
        return UserRead.model_validate(await auth_service.register(data))

    @post("/login", status_code=200, cache_control=NO_STORE)
    async def login(
        self,
        data: JSONBody[LoginRequest],
        auth_service: NamedDependency[AuthService],
        request: Request[Any, Any, Any],
    ) -> TokenPair:
        """Exchange email and password for an access token and a refresh token."""
        return await auth_service.login(
            data.email, data.password, request.scope["state"]["client_ip"]
        )

    @post("/refresh", status_code=200, cache_control=NO_STORE)
    async def refresh(
        self, data: JSONBody[RefreshRequest], auth_service: NamedDependency[AuthService]
    ) -> TokenPair:
        """Rotate a refresh token into a new token pair."""
        return await auth_service.refresh(data.refresh_token)

    @post("/logout", status_code=204)
    async def logout(
        self,
        auth_service: NamedDependency[AuthService],
        current_user: NamedDependency[CurrentUser],
        data: JSONBody[LogoutRequest | None] = None,
    ) -> None:
        """Revoke the access token and the refresh token's session (all sessions without one)."""
        await auth_service.logout(current_user.claims, data.refresh_token if data else None)

    @get("/me")
    async def me(
        self, request: Request[Any, Any, Any], current_user: NamedDependency[CurrentUser]
    ) -> UserRead:
        """The signed-in account and its plan."""
        return UserRead.model_validate(await signed_in_account(request))
