"""Per-user (per-IP when anonymous) rate limiting in Redis, at each seller's plan rate.

Litestar's own RateLimitMiddleware has one rate for everyone and a read-modify-write under a
process-local lock; the ``limits`` library gives an atomic Redis fixed window we can size per plan.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from gateway.dependencies import resources
from gateway.problems import PROBLEM_JSON, problem_body
from services.auth.tokens import decode_access_token
from services.core.errors import NotAuthenticated
from services.core.outage import OutageLog
from services.core.settings import Settings

logger = logging.getLogger(__name__)
# One line per stretch of outage, not a traceback per request.
limiter_outage_log = OutageLog(logger, every_s=30.0)

EXEMPT_PREFIXES = ("/health", "/metrics", "/schema", "/static")


async def send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
    ]
    await send(
        HTTPResponseStartEvent(type="http.response.start", status=status, headers=raw_headers)
    )
    await send(HTTPResponseBodyEvent(type="http.response.body", body=payload, more_body=False))


def limits_storage_uri(redis_url: str) -> str:
    return "async+" + redis_url if not redis_url.startswith("async+") else redis_url


class RateLimitMiddleware:
    """Adds RateLimit-* headers to every counted response and answers 429 past the limit."""

    def __init__(self, app: Litestar, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._limiter: FixedWindowRateLimiter | None = None

    @property
    def limiter(self) -> FixedWindowRateLimiter:
        # Built on first use, over the app's own Redis pool (opened in the lifespan).
        if self._limiter is None:
            pool = resources(self.app.state).redis.connection_pool
            storage = RedisStorage(
                limits_storage_uri(self.settings.redis.url),
                implementation="redispy",
                key_prefix="shelfwatch:ratelimit",
                connection_pool=pool,  # type: ignore[arg-type]
            )
            self._limiter = FixedWindowRateLimiter(storage)
        return self._limiter

    def _identity(self, scope: Scope) -> tuple[str, int]:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token:
                    try:
                        claims = decode_access_token(self.settings.auth, token.strip())
                    except NotAuthenticated:
                        break  # counted as anonymous; the route itself answers 401
                    return f"user:{claims.user_id}", claims.rate_limit_per_minute
                break
        ip = scope.get("state", {}).get("client_ip") or "unknown"
        return f"ip:{ip}", self.settings.http.anonymous_rate_per_minute

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        identity, rate = self._identity(scope)
        item = RateLimitItemPerMinute(rate)
        try:
            allowed = await self.limiter.hit(item, identity)
            stats = await self.limiter.get_window_stats(item, identity)
        except Exception as exc:
            # Fails open: while Redis is away requests are served uncounted, for the length
            # of the outage. Failing closed would turn a Redis restart into a full API outage,
            # including for reads that PostgreSQL alone can answer.
            limiter_outage_log.seen("rate limiter unavailable; request not counted", exc)
            await self.app(scope, receive, send)
            return
        reset_in = max(0, math.ceil(stats.reset_time - time.time()))
        headers = {
            "RateLimit-Limit": str(rate),
            "RateLimit-Remaining": str(stats.remaining),
            "RateLimit-Reset": str(reset_in),
            "RateLimit-Policy": f"{rate};w=60",
        }
        if not allowed:
            body = problem_body(
                429,
                "rate_limited",
                f"Rate limit of {rate} requests per minute exceeded; retry in {reset_in}s",
                scope["path"],
            )
            await send_json(send, 429, body, {**headers, "Retry-After": str(max(1, reset_in))})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                mutable = MutableScopeHeaders(message)
                for key, value in headers.items():
                    mutable[key] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
