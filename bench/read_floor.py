"""Where a cached read's CPU goes, step by step, measured in-process (no HTTP, no load
generator): the read-path benchmark's second table.

Each step is timed alone with ``time.process_time`` over many calls and given in µs of this
process's CPU per call:

- the ASGI app answering one cached request with no server in front: the bare Litestar app vs
  the gateway's full stack (edge layers, authentication, rate limit, dependencies, the cached
  answer), on the same route;
- the gateway's per-request parts on their own: the access token's check (first and later
  uses), one Redis script call (a cached read makes one in all: the rate limit, the token
  checks and the route's cached entry), one JSON access-log line, and Litestar resolving two
  independent dependencies (which it does in an anyio task group) vs two chained ones (the
  product routes' are one chain).

Run by ``bench.read_path`` after its load test, on the same scratch database and Redis DB.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar, get
from litestar.di import Provide
from redis.asyncio import Redis

from gateway.app import create_litestar, wrap_edge
from services.auth.tokens import decode_access_token, issue_access_token
from services.core.logging import JsonLinesFormatter
from services.core.settings import Settings

Step = tuple[str, float]


async def _per_call(fn: Callable[[], Awaitable[Any]], calls: int) -> float:
    """µs of this process's CPU per call of an async step (after a warm-up)."""
    for _ in range(min(200, calls)):
        await fn()
    started = time.process_time()
    for _ in range(calls):
        await fn()
    return (time.process_time() - started) * 1e6 / calls


def _per_call_sync(fn: Callable[[], Any], calls: int) -> float:
    for _ in range(min(200, calls)):
        fn()
    started = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - started) * 1e6 / calls


def _asgi_get(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> Callable[[], Any]:
    """One GET through an ASGI app, the answer discarded."""
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def call() -> None:
        await app(dict(scope, state={}), receive, send)
        if statuses.pop() != 200:
            raise RuntimeError(f"GET {path} did not answer 200")

    return call


def _bare(body: Any, path: str) -> Litestar:
    """bench.bare_app's answer: the captured JSON as an object, encoded by Litestar."""

    @get(path.partition("?")[0])
    async def answer() -> Any:
        return body

    return Litestar([answer], openapi_config=None, logging_config=None)


def _dependencies(independent: bool) -> Litestar:
    async def one() -> int:
        return 1

    async def two() -> int:
        return 2

    async def after_one(one: int) -> int:
        return one + 1

    deps = {"one": Provide(one), "two": Provide(two if independent else after_one)}

    @get("/d", dependencies=deps, media_type="application/json")
    async def answer(one: int, two: int) -> bytes:
        return b"{}"

    return Litestar([answer], openapi_config=None, logging_config=None)


async def measure(
    settings: Settings, token: str, routes: dict[str, tuple[str, Any]], calls: int = 3000
) -> list[Step]:
    """Each route's cached read through the bare app and the gateway (caches already warm),
    then the gateway's per-request parts on their own."""
    steps: list[Step] = []
    auth = [(b"authorization", f"Bearer {token}".encode())]
    gateway = create_litestar(settings)
    async with gateway.lifespan():
        edge = wrap_edge(gateway, settings)
        # The access log's cost is a step of its own below: here its lines are not written.
        access = logging.getLogger("gateway.access")
        access.disabled = True
        try:
            for name, (path, body) in routes.items():
                bare = await _per_call(_asgi_get(_bare(body, path), path, []), calls)
                ours = await _per_call(_asgi_get(edge, path, auth), calls)
                steps.append((f"{name}: bare Litestar app, same route and body", bare))
                steps.append((f"{name}: gateway, whole stack, cached answer", ours))
        finally:
            access.disabled = False

    # A token's first use is verified (PyJWT, HS256); later uses find its verified claims.
    fresh = iter(
        [
            issue_access_token(settings.auth, uuid.uuid4(), "seller", 60)[0]
            for _ in range(calls + 200)
        ]
    )

    def verify_first() -> Any:
        return decode_access_token(settings.auth, next(fresh))

    def verify_again() -> Any:
        return decode_access_token(settings.auth, token)

    steps.append(("access token, first use: verified (PyJWT)", _per_call_sync(verify_first, calls)))
    steps.append(("access token, later uses: kept claims", _per_call_sync(verify_again, calls)))
    redis = Redis.from_url(settings.redis.url)
    try:
        script = redis.register_script("return {redis.call('INCR', KEYS[1]), 1, '', ''}")
        key = f"bench:floor:{uuid.uuid4().hex}"

        async def script_call() -> Any:
            return await script(keys=[key])

        steps.append(("one Redis script call (redis-py)", await _per_call(script_call, calls)))
        await redis.delete(key)
    finally:
        await redis.aclose()

    logger = logging.Logger("bench.floor.access")
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonLinesFormatter("shelfwatch-gateway"))
    logger.addHandler(handler)
    extra = {"method": "GET", "route": "/api/v1/products/", "status": 200, "duration_ms": 1.0}

    def log_line() -> None:
        logger.info("request", extra=extra)

    steps.append(("one JSON access-log line", _per_call_sync(log_line, calls * 3)))
    chained = await _per_call(_asgi_get(_dependencies(False), "/d", []), calls)
    grouped = await _per_call(_asgi_get(_dependencies(True), "/d", []), calls)
    steps.append(("route with two dependencies, one after the other", chained))
    steps.append(("route with two independent dependencies (anyio task group)", grouped))
    return steps
