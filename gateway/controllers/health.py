"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from gateway.dependencies import resources
from services.auth.models import Role
from services.auth.tokens import decode_access_token
from services.core.errors import DomainError
from services.core.heartbeat import live_workers
from services.core.settings import AuthSettings


def _is_admin(request: Request[Any, Any, Any], settings: AuthSettings) -> bool:
    """Whether the caller sent a valid admin access token (the details are for operators)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        return decode_access_token(settings, token.strip()).role == Role.ADMIN.value
    except DomainError:
        return False


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live")
    async def live(self) -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @get(
        "/ready",
        responses={
            503: ResponseSpec(
                data_container=dict[str, Any], description="Not ready: database or Redis away"
            )
        },
    )
    async def ready(
        self, state: State, request: Request[Any, Any, Any]
    ) -> Response[dict[str, Any]]:
        """Database and Redis reachable (503 otherwise). Anonymous callers learn only
        ready/not_ready; an admin token adds each check and the workers' heartbeats (what
        is down, and which types of error, is for operators — and /metrics)."""
        res = resources(state)
        checks: dict[str, Any] = {}
        try:
            async with res.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # any failure means "not ready", with its type for the operator
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            await res.redis.ping()
            checks["redis"] = "ok"
            checks["workers"] = await live_workers(res.redis)
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
        ready = checks["database"] == "ok" and checks["redis"] == "ok"
        body: dict[str, Any] = {"status": "ready" if ready else "not_ready"}
        if _is_admin(request, res.settings.auth):
            body["checks"] = checks
        return Response(body, status_code=200 if ready else 503)
