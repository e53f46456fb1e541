"""Per-user (per-IP when anonymous) rate limiting in Redis, at each seller's plan rate.

Litestar's own RateLimitMiddleware has one rate for everyone and a read-modify-write under a
process-local lock; an atomic Redis fixed window sized per plan needs three commands, sent in
one script call with the token checks and, for a cached route, the lookup of its answer. When
that call finds the seller's stored answer for a token that passed, it is sent from here.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from litestar import Litestar
from litestar._asgi.utils import is_valid_host  # the router's own host check
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)
from litestar.utils import normalize_path

from gateway.dependencies import (
    EDGE_LOOKUP,
    EDGE_VERDICT,
    READ_VIEW,
    EdgeVerdict,
    ReadViewOf,
    resources,
)
from gateway.middleware import EDGE_HEADERS, RawHeaders
from gateway.observability import HttpMetricsMiddleware, prometheus_config
from gateway.problems import PROBLEM_JSON, problem_body
from gateway.web.setup import SESSION_COOKIE, SESSION_NAMESPACE
from services.auth.service import disabled_before, token_check_keys
from services.auth.tokens import AccessClaims, decode_access_token
from services.core.errors import NotAuthenticated
from services.core.outage import OutageLog
from services.core.pipelining import PipelinedScript
from services.core.read_cache import (
    VERSIONED_LOOKUP_LUA,
    CachedView,
    LocalCopies,
    ViewLookup,
    looked_up,
)
from services.core.settings import Settings

logger = logging.getLogger(__name__)
# One line per stretch of outage, not a traceback per request.
limiter_outage_log = OutageLog(logger, every_s=30.0)

EXEMPT_PREFIXES = ("/health", "/metrics", "/schema", "/static")
_PROBLEM = PROBLEM_JSON.encode()


async def send_answer(
    send: Send, status: int, media_type: bytes, body: bytes, headers: RawHeaders
) -> None:
    """A whole response sent from the edge: its status, type, length and ``headers``."""
    start = [(b"content-type", media_type), (b"content-length", str(len(body)).encode())]
    await send(
        HTTPResponseStartEvent(
            type="http.response.start", status=status, headers=[*start, *headers]
        )
    )
    await send(HTTPResponseBodyEvent(type="http.response.body", body=body, more_body=False))


WINDOW_S = 60
WINDOW_PREFIX = "shelfwatch:ratelimit:"
# A signed-in user's window: their API calls and their pages count in the same one.
USER_WINDOW = f"{WINDOW_PREFIX}user:"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,128}")
# One script call, atomic like MULTI/EXEC (the window cannot expire between opening it and
# counting in it) but a single command to send and parse: KEYS[1] is the window, the next
# ARGV[2] keys are the token's revocation and account marks, answered with their values (''
# when absent). A cached route's view adds its version keys after those, and ARGV[3] / ARGV[4]
# (the entry key's prefix and suffix): its tag and stored answer ('' when absent) and the
# answer's remaining lifetime come last, so a cached read is one round trip in all. ARGV[5] is
# the entry key of the copy the edge holds, if any: when the current tag gives that key and the
# entry is still there, 1 comes instead of the answer (an entry's key changes with every version
# token, so the copy is it).
_COUNT_AND_CHECK = (
    VERSIONED_LOOKUP_LUA
    + """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local answer = {redis.call('INCR', KEYS[1]), redis.call('TTL', KEYS[1])}
local checks = 1 + tonumber(ARGV[2])
for i = 2, checks do answer[#answer + 1] = redis.call('GET', KEYS[i]) or '' end
if ARGV[3] then
  local tag = versioned_tag(checks + 1)
  local key = ARGV[3] .. tag .. ARGV[4]
  answer[#answer + 1] = tag
  if key == ARGV[5] and redis.call('EXISTS', key) == 1 then
    answer[#answer + 1] = 1  -- the edge's own copy is the current one: not sent again
  else
    answer[#answer + 1] = redis.call('GET', key) or ''
    answer[#answer + 1] = redis.call('PTTL', key)
  end
end
return answer
"""
)


# Pages: a session cookie whose session is signed in counts against that user's window, at
# the signed-in rate (a team behind one office address is not one anonymous caller, nor is
# an admin with the live queue views open); anything else counts per IP. The session is read
# in the same call, so a made-up cookie is only an anonymous caller. KEYS[1] is the IP
# window, KEYS[2] the session's key in the session store.
_COUNT_PAGE = """
local window = KEYS[1]
local session = redis.call('GET', KEYS[2])
local user = session and string.match(session, '"user_id"%s*:%s*"([%x%-]+)"')
if user then window = ARGV[2] .. user end
redis.call('SET', window, 0, 'EX', ARGV[1], 'NX')
return {redis.call('INCR', window), redis.call('TTL', window), user and 1 or 0}
"""


_RouteView = tuple[str | None, CachedView | None]
_VIEWS_KEPT = 8192


@lru_cache(maxsize=4096)  # per token: its claims are kept per process too
def _signed_in_keys(claims: AccessClaims) -> tuple[str, tuple[str, ...]]:
    """A signed-in caller's window and the keys of their token's checks."""
    return f"{USER_WINDOW}{claims.user_id}", token_check_keys(claims)


@dataclass(frozen=True, slots=True)
class _Caller:
    """Who a request counts as, before Redis has said more: the window it counts in, that
    window's rate, the bearer token's claims, the session cookie's key in the store."""

    window: str
    rate: int
    claims: AccessClaims | None = None
    check_keys: tuple[str, ...] = ()
    session_key: str | None = None
    view: CachedView | None = None
    # The cached route's template ("/api/v1/products/{tracking_id:uuid}"), with its view.
    route: str | None = None


def session_id(scope: Scope) -> str | None:
    """The page session cookie's id, if the request carries a well-formed one."""
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == SESSION_COOKIE and _SESSION_ID.fullmatch(val):
                    return val
    return None


class RateLimitMiddleware:
    """Adds RateLimit-* headers to every counted response and answers 429 past the limit.

    A fixed window per identity that starts at its first request (as the ``limits`` library's
    fixed window does), counted in the same Redis round trip that reads the bearer token's
    revocation and its account's disabled mark, and a cached route's stored answer: one round
    trip per request for all of them (shared with the other requests of the same event-loop
    turn, ``PipelinedScript``)."""

    def __init__(self, app: Litestar, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._scripts: dict[str, PipelinedScript] = {}
        self._views: dict[tuple[Any, str, bytes], _RouteView] = {}
        # The stored answers this process sent lately: Redis sends one again only when its
        # version changed (a list page is ~30 KB per request otherwise).
        self._copies = LocalCopies(max_bytes=32 * 1024 * 1024)
        # The HTTP metrics' series, for the answers sent from here without the router.
        self.metrics = HttpMetricsMiddleware(app, prometheus_config)

    def _caller(self, scope: Scope) -> _Caller:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token:
                    try:
                        claims = decode_access_token(self.settings.auth, token.strip())
                    except NotAuthenticated:
                        break  # counted as anonymous; the route itself answers 401
                    route, view = self._read_view(scope, claims)
                    window, checks = _signed_in_keys(claims)
                    return _Caller(
                        window, claims.rate_limit_per_minute, claims, checks, view=view, route=route
                    )
                break
        ip = scope.get("state", {}).get("client_ip") or "unknown"
        session = session_id(scope)
        return _Caller(
            f"{WINDOW_PREFIX}ip:{ip}",
            self.settings.http.anonymous_rate_per_minute,
            session_key=f"{SESSION_NAMESPACE}:{session}" if session else None,
        )

    def _read_view(self, scope: Scope, claims: AccessClaims) -> _RouteView:
        """The cached view the route will answer from, when it declares one (``READ_VIEW``),
        and the route's template. A view is a function of the seller, the path and the query,
        so it is worked out once per (seller, path, query) and kept."""
        if scope.get("method") != "GET" or scope.get("root_path"):
            return None, None
        key = (claims.user_id, scope["path"], scope["query_string"])
        known = self._views.get(key)
        if known is None:
            known = self._views[key] = self._route_view(scope, claims)
            if len(self._views) > _VIEWS_KEPT:
                del self._views[next(iter(self._views))]  # the oldest
        return known

    def _route_view(self, scope: Scope, claims: AccessClaims) -> _RouteView:
        """Routing here as the router will (its matches are memoised per path); a path it
        refuses is left to it."""
        try:
            route = self.app.asgi_router.handle_routing(normalize_path(scope["path"]), "GET")
        except HTTPException:
            return None, None
        view_of: ReadViewOf | None = route[1].opt.get(READ_VIEW)
        if view_of is None:
            return None, None
        return route[4], view_of(claims.user_id, route[3], scope["query_string"].decode("latin-1"))

    def _script_for(self, source: str, name: str) -> PipelinedScript:
        redis = resources(self.app.state).redis
        script = self._scripts.get(source)
        if script is None or script.redis is not redis:
            script = self._scripts[source] = PipelinedScript(redis, source, name)
        return script

    async def _count(self, caller: _Caller) -> tuple[int, int, int, list[Any], ViewLookup | None]:
        """(hits in the window, seconds until it resets, the rate that applies, the token
        checks' answers, and for a cached route its lookup: the entry's key and answer)."""
        if caller.session_key is not None:
            hits, ttl, signed_in = await self._script_for(_COUNT_PAGE, "count_page")(
                [caller.window, caller.session_key], [WINDOW_S, USER_WINDOW]
            )
            rate = self.settings.http.default_rate_per_minute if signed_in else caller.rate
            return int(hits), int(ttl), rate, [], None
        keys = [caller.window, *caller.check_keys]
        args: list[Any] = [WINDOW_S, len(keys) - 1]
        view, held = caller.view, None
        if view is not None:
            held = self._copies.held(view)
            keys.extend(view.version_keys)
            args.extend((view.prefix, view.suffix, held[0] if held else ""))
        script = self._script_for(_COUNT_AND_CHECK, "count_and_check")
        hits, ttl, *checks = await script(keys, args)
        if view is None:
            return int(hits), int(ttl), caller.rate, checks, None
        tag, answer, *lifetime = checks[2:]
        if answer == 1 and held is not None:
            found = ViewLookup(view, held[0], held[1])
        else:
            found = looked_up(view, tag, answer)
            if found.body is not None and lifetime:
                self._copies.keep(view, found.key, found.body, int(lifetime[0]))
        return int(hits), int(ttl), caller.rate, checks[:2], found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        caller = self._caller(scope)
        claims = caller.claims
        try:
            hits, reset_in, rate, checks, found = await self._count(caller)
        except Exception as exc:
            # Fails open: while Redis is away requests are served uncounted, for the length
            # of the outage. Failing closed would turn a Redis restart into a full API outage,
            # including for reads that PostgreSQL alone can answer.
            limiter_outage_log.seen("rate limiter unavailable; request not counted", exc)
            await self.app(scope, receive, send)
            return
        allowed = hits <= rate
        reset_in = reset_in if reset_in >= 0 else WINDOW_S
        headers = {
            "RateLimit-Limit": str(rate),
            "RateLimit-Remaining": str(max(0, rate - hits)),
            "RateLimit-Reset": str(reset_in),
            "RateLimit-Policy": f"{rate};w=60",
        }
        raw = [(key.lower().encode(), value.encode()) for key, value in headers.items()]
        if not allowed:
            body = problem_body(
                429,
                "rate_limited",
                f"Rate limit of {rate} requests per minute exceeded; retry in {reset_in}s",
                scope["path"],
            )
            retry = (b"retry-after", str(max(1, reset_in)).encode())
            await send_answer(send, 429, _PROBLEM, json.dumps(body).encode(), [*raw, retry])
            return

        if claims is not None:
            revoked, disabled_mark = (c or None for c in checks[:2])
            verdict = EdgeVerdict(
                claims, revoked is not None, disabled_before(claims, disabled_mark)
            )
            scope[EDGE_VERDICT] = verdict  # type: ignore[literal-required]
            if found is not None:
                if (
                    found.body is not None
                    and caller.route is not None
                    and not (verdict.revoked or verdict.disabled)
                    and self._answerable_here(scope)
                ):
                    await self._answer_stored(scope, send, caller.route, claims, found.body, raw)
                    return
                # Handed to the route, which answers with it only once the token passed and
                # (on a miss) stores its answer under this key after its tenancy check.
                scope[EDGE_LOOKUP] = found  # type: ignore[literal-required]

        # Set on the response by the request-context layer, with its own, in one pass.
        scope["state"][EDGE_HEADERS] = raw
        await self.app(scope, receive, send)

    def _answerable_here(self, scope: Scope) -> bool:
        """Whether the router would take this request as it is to the route: a host header it
        accepts, and no cross-origin call for the CORS layer to answer."""
        for name, value in scope["headers"]:
            if name == b"host" and not is_valid_host(value):
                return False
            if name == b"origin" and self.settings.http.cors_origins:
                return False
        return True

    async def _answer_stored(
        self,
        scope: Scope,
        send: Send,
        route: str,
        claims: AccessClaims,
        body: bytes,
        rate_headers: list[tuple[bytes, bytes]],
    ) -> None:
        """A cached route's stored answer, sent from here: the token passed its signature,
        revocation and account checks in this request's round trip, and the entry is the
        seller's own (its key holds their id and was written after the route's tenancy check),
        so the route would only send the same bytes, after the router, the dependencies and
        the service. The access log and the HTTP metrics still see it under its route."""
        started = time.perf_counter()
        scope["path_template"] = route
        scope["state"]["user_id"] = str(claims.user_id)
        await send_answer(send, 200, b"application/json", body, rate_headers)
        self.metrics.observe("GET", route, 200, time.perf_counter() - started)
