"""The gateway's edge: problem+json for every error, request ids, rate limits, metrics, headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from litestar import Litestar, get

from gateway.problems import EXCEPTION_HANDLERS
from services.core.settings import Settings
from tests.integration.conftest import AuthHeaders, app_client, scraped

pytestmark = pytest.mark.asyncio

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = r.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    return body


async def test_malformed_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/auth/login", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert_problem(r, 400, "bad_request")


async def test_wrong_type_names_the_field(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/login", json={"email": 12, "password": ["x"]})
    body = assert_problem(r, 400, "validation_failed")
    assert {e["field"] for e in body["errors"]} == {"email", "password"}  # type: ignore[attr-defined]


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_problem(await client.get("/api/v1/auth/login"), 405, "method_not_allowed")


async def test_oversized_body(client: httpx.AsyncClient, settings: Settings) -> None:
    big = b'{"email": "' + b"a" * (settings.http.max_body_bytes + 10) + b'"}'
    r = await client.post(
        "/api/v1/auth/login", content=big, headers={"content-type": "application/json"}
    )
    assert_problem(r, 413, "payload_too_large")


async def test_unexpected_exception_is_a_500_without_internals() -> None:
    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    app = Litestar([boom], exception_handlers=EXCEPTION_HANDLERS, logging_config=None)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        r = await http.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "internal_error"
    assert "hunter2" not in r.text
    assert "RuntimeError" not in r.text


async def test_request_id_is_echoed_when_sane_and_replaced_otherwise(
    client: httpx.AsyncClient,
) -> None:
    mine = "req-" + uuid.uuid4().hex
    r = await client.get("/health/live", headers={"X-Request-ID": mine})
    assert r.headers["x-request-id"] == mine
    r = await client.get("/health/live", headers={"X-Request-ID": "bad id\nwith newline"})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    r = await client.get("/nope", headers={"X-Request-ID": mine})
    assert r.json()["request_id"] == mine


async def test_security_headers(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/live")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


async def test_anonymous_rate_limit_gives_429_with_headers(settings: Settings) -> None:
    tight = settings.model_copy(deep=True)
    tight.http.anonymous_rate_per_minute = 5
    async with app_client(tight) as client:
        statuses = []
        for _ in range(7):
            r = await client.post("/api/v1/auth/login", json={"email": "a@b.co", "password": "x"})
            statuses.append(r.status_code)
        assert statuses[:5] == [401] * 5
        assert statuses[5:] == [429, 429]
        body = assert_problem(r, 429, "rate_limited")
        assert "5 requests per minute" in str(body["detail"])
        assert r.headers["ratelimit-limit"] == "5"
        assert r.headers["ratelimit-remaining"] == "0"
        assert 0 < int(r.headers["retry-after"]) <= 60
        # Health probes are never limited.
        assert (await client.get("/health/live")).status_code == 200


async def test_signed_in_sellers_are_limited_by_their_plan_not_their_ip(
    settings: Settings,
) -> None:
    tight = settings.model_copy(deep=True)
    tight.http.anonymous_rate_per_minute = 2
    async with app_client(tight) as client:
        password = "a-Strong-passw0rd"
        await client.post(
            "/api/v1/auth/register", json={"email": "planuser@example.com", "password": password}
        )
        r = await client.post(
            "/api/v1/auth/login", json={"email": "planuser@example.com", "password": password}
        )
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        # The IP has used its 2 anonymous calls; the seller's free plan allows 60 a minute.
        assert (await client.get("/api/v1/auth/me")).status_code == 429
        r = await client.get("/api/v1/auth/me", headers=auth)
        assert r.status_code == 200
        assert r.headers["ratelimit-limit"] == "60"


async def test_metrics_use_route_templates(
    client: httpx.AsyncClient, make_seller: Callable[..., Awaitable[AuthHeaders]]
) -> None:
    auth = await make_seller()
    user_id = str(uuid.uuid4())
    await client.get(f"/api/v1/admin/users/{user_id}", headers=auth)
    text = (await client.get("/metrics")).text
    assert 'path="/api/v1/admin/users/{user_id}"' in text
    assert user_id not in text
    assert "shelfwatch_http_request_duration_seconds" in text
    assert "shelfwatch_queue_depth_jobs" in text


async def test_metrics_count_every_request_by_route_and_status(
    client: httpx.AsyncClient, make_seller: Callable[..., Awaitable[AuthHeaders]]
) -> None:
    auth = await make_seller()
    detail = "/api/v1/products/{tracking_id}"
    before = (await client.get("/metrics")).text
    for _ in range(3):
        assert (await client.get("/api/v1/products", headers=auth)).status_code == 200
    await client.get(f"/api/v1/products/{uuid.uuid4()}", headers=auth)
    after = (await client.get("/metrics")).text
    total, seconds = "shelfwatch_http_requests_total", "shelfwatch_http_request_duration_seconds"
    for name, path, status, more in (
        (total, "/api/v1/products", 200, 3),
        (total, detail, 404, 1),
        (f"{seconds}_count", "/api/v1/products", 200, 3),
        (f"{seconds}_count", detail, 404, 1),
    ):
        assert scraped(after, name, path, status) - scraped(before, name, path, status) == more
    assert scraped(after, f"{seconds}_sum", "/api/v1/products", 200) > scraped(
        before, f"{seconds}_sum", "/api/v1/products", 200
    )
    in_progress = [
        line
        for line in after.splitlines()
        if line.startswith("shelfwatch_http_requests_in_progress{")
    ]
    assert in_progress and all(line.endswith(" 0.0") for line in in_progress)


async def test_readiness_reports_database_and_redis(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200
    assert r.json() == {"status": "ready"}  # details are for admins (test_auth_details)


async def test_readiness_fails_when_the_database_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(deep=True)
    broken.database.url = "postgresql://postgres@127.0.0.1:1/none"
    async with app_client(broken) as client:
        r = await client.get("/health/ready")
    assert r.status_code == 503
    assert r.json() == {"status": "not_ready"}


async def test_openapi_schema(client: httpx.AsyncClient) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/auth/login" in paths
    assert paths["/api/v1/auth/login"]["post"]["summary"]
