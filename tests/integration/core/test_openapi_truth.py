"""The OpenAPI document says what the gateway really answers."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


async def _spec(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    spec: dict[str, Any] = r.json()
    return spec


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


async def test_every_error_status_is_a_documented_problem(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    assert spec["components"]["schemas"]["Problem"]["required"][:4] == [
        "type",
        "title",
        "status",
        "code",
    ]
    for method, path, op in _operations(spec):
        errors = {int(s): r for s, r in op["responses"].items() if int(s) >= 400}
        expected = {400, 422, 429, 500, 503} if path.startswith("/api/") else {500}
        assert expected <= set(errors), (method, path, sorted(errors))
        for status, response in errors.items():
            if (path, status) == ("/health/ready", 503):
                continue  # readiness answers its own JSON, checked below
            assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (
                method,
                path,
                status,
            )
        if "{" in path:
            assert 404 in errors, (method, path)
        if path.startswith("/api/v1/admin"):
            assert {401, 403} <= set(errors), (method, path)


async def test_bearer_scheme_is_declared_on_exactly_the_secured_routes(
    client: httpx.AsyncClient,
) -> None:
    spec = await _spec(client)
    assert spec["components"]["securitySchemes"]["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access token from POST /api/v1/auth/login",
    }
    secured = {(m, p) for m, p, op in _operations(spec) if op.get("security")}
    anonymous = {
        ("POST", "/api/v1/auth/register"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/refresh"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
    }
    assert not secured & anonymous
    for method, path in [
        ("GET", "/api/v1/products"),
        ("POST", "/api/v1/products/bulk"),
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/admin/plans"),
        ("GET", "/api/v1/alerts"),
    ]:
        assert (method, path) in secured
    # What the scheme promises holds: no token on a secured route is a 401 problem.
    r = await client.get("/api/v1/products")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_bulk_bodies_are_described(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    body = spec["paths"]["/api/v1/products/bulk"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json", "text/csv"}
    bulk = spec["components"]["schemas"]["BulkTrack"]
    assert bulk["properties"]["items"]["maxItems"] == 100
    assert bulk["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/TrackedProductCreate"
    }


async def test_decimals_are_documented_as_the_strings_they_are_sent_as(
    client: httpx.AsyncClient,
) -> None:
    """Money and ratings travel as exact decimal strings ("20.00"); the schema must say string,
    never number (a client generated from it would otherwise parse floats)."""
    schemas = (await _spec(client))["components"]["schemas"]
    decimal_fields = [
        ("SnapshotRead", "price"),
        ("SnapshotRead", "rating"),
        ("TrackedProductRow", "price"),
        ("TrackedProductRow", "price_change_7d_pct"),
        ("CrawlRunRead", "cost_usd"),
        ("CrawlCostSummary", "cost_usd"),
    ]
    for model, field in decimal_fields:
        prop = schemas[model]["properties"][field]
        types = {t["type"] for t in prop.get("oneOf", [prop])}
        assert types <= {"string", "null"} and "string" in types, (model, field, prop)


async def test_readiness_documents_its_503(client: httpx.AsyncClient) -> None:
    op = (await _spec(client))["paths"]["/health/ready"]["get"]
    assert set(op["responses"]["503"]["content"]) == {"application/json"}
