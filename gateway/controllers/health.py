"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlalchemy import text

from gateway.dependencies import resources
from services.core.heartbeat import live_workers


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live")
    async def live(self) -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @get("/ready")
    async def ready(self, state: State) -> Response[dict[str, Any]]:
        """Database and Redis reachable (503 otherwise); workers' heartbeats reported."""
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
        return Response(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )
