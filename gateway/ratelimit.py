"""Per-user (per-IP when anonymous) rate limiting in Redis, at each seller's plan rate.

Litestar's own RateLimitMiddleware has one rate for everyone and a read-modify-write under a
process-local lock; an atomic Redis fixed window sized per plan needs three commands, sent in
one pipeline with the token checks.
"""

from __future__ import annotations

import json
import logging
from typing import Any

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
from redis.commands.core import AsyncScript

from gateway.dependencies import EDGE_VERDICT, EdgeVerdict, resources
from gateway.problems import PROBLEM_JSON, problem_body
from services.auth.service import disabled_before, token_check_keys
from services.auth.tokens import AccessClaims, decode_access_token
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


WINDOW_S = 60
# One script call, atomic like MULTI/EXEC (the window cannot expire between opening it and
# counting in it) but a single command to send and parse: KEYS[1] is the window, the others
# are the token's revocation and account marks, answered with their values ('' when absent).
_COUNT_AND_CHECK = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local answer = {redis.call('INCR', KEYS[1]), redis.call('TTL', KEYS[1])}
for i = 2, #KEYS do answer[#answer + 1] = redis.call('GET', KEYS[i]) or '' end
return answer
"""


class RateLimitMiddleware:
    """Adds RateLimit-* headers to every counted response and answers 429 past the limit.

    A fixed window per identity that starts at its first request (as the ``limits`` library's
    fixed window does), counted in the same Redis round trip that reads the bearer token's
    revocation and its account's disabled mark: one round trip per request for both."""

    def __init__(self, app: Litestar, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._script: AsyncScript | None = None

    def _identity(self, scope: Scope) -> tuple[str, int, AccessClaims | None]:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token:
                    try:
                        claims = decode_access_token(self.settings.auth, token.strip())
                    except NotAuthenticated:
                        break  # counted as anonymous; the route itself answers 401
                    return f"user:{claims.user_id}", claims.rate_limit_per_minute, claims
                break
        ip = scope.get("state", {}).get("client_ip") or "unknown"
        return f"ip:{ip}", self.settings.http.anonymous_rate_per_minute, None

    async def _count(
        self, identity: str, claims: AccessClaims | None
    ) -> tuple[int, int, list[Any]]:
        """(hits in the window, seconds until it resets, token-check answers)."""
        keys = [f"shelfwatch:ratelimit:{identity}"]
        if claims is not None:
            keys.extend(token_check_keys(claims))
        redis = resources(self.app.state).redis
        if self._script is None or self._script.registered_client is not redis:
            self._script = redis.register_script(_COUNT_AND_CHECK)
        hits, ttl, *checks = await self._script(keys=keys, args=[WINDOW_S])
        return int(hits), int(ttl), checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        identity, rate, claims = self._identity(scope)
        try:
            hits, reset_in, checks = await self._count(identity, claims)
        except Exception as exc:
            # Fails open: while Redis is away requests are served uncounted, for the length
            # of the outage. Failing closed would turn a Redis restart into a full API outage,
            # including for reads that PostgreSQL alone can answer.
            limiter_outage_log.seen("rate limiter unavailable; request not counted", exc)
            await self.app(scope, receive, send)
            return
        if claims is not None:
            revoked, disabled_mark = (c or None for c in checks)
            scope[EDGE_VERDICT] = EdgeVerdict(  # type: ignore[literal-required]
                claims, revoked is not None, disabled_before(claims, disabled_mark)
            )
        allowed = hits <= rate
        reset_in = reset_in if reset_in >= 0 else WINDOW_S
        remaining = max(0, rate - hits)
        headers = {
            "RateLimit-Limit": str(rate),
            "RateLimit-Remaining": str(remaining),
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
