"""No request body can make the gateway answer 500: deeply nested JSON, invalid UTF-8, a JSON
that is not an object, huge numbers, lone surrogates — on anonymous and authenticated routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

AuthHeaders = dict[str, str]
MakeSeller = Callable[..., Awaitable[AuthHeaders]]

DEPTH = 20_000  # deep enough for any recursive decoder, small enough for the body limit
# Bodies no decoder can read: always 400.
BODIES: list[tuple[str, bytes]] = [
    ("deep-array", b"[" * DEPTH + b"]" * DEPTH),
    ("deep-object", b'{"a":' * DEPTH + b"1" + b"}" * DEPTH),
    (
        "deep-in-field",
        b'{"email": "a@example.com", "password": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
    ),
    ("invalid-utf8", b'{"email": "\xff\xfe", "password": "x"}'),
    ("not-json", b"{'email': 1"),
    ("huge-number", b'{"email": 1' + b"0" * 5000 + b', "password": "x"}'),
]
# Readable JSON of the wrong shape: a 4xx problem (400 or 422), never a 5xx.
WRONG_SHAPE: list[tuple[str, bytes]] = [
    ("lone-surrogate", b'{"email": "\\ud800@example.com", "password": "x"}'),
    ("scalar", b"42"),
    ("empty", b""),
    ("null", b"null"),
    ("nul-byte", b'{"email": "a\\u0000@example.com", "password": "x", "product": "\\u0000"}'),
]
ANONYMOUS = ["/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/auth/refresh"]
AUTHENTICATED = [
    ("POST", "/api/v1/products"),
    ("POST", "/api/v1/products/bulk"),
    ("POST", "/api/v1/channels"),
    ("POST", "/api/v1/alerts/read"),
]


@pytest.mark.parametrize(("name", "body"), BODIES)
async def test_anonymous_json_routes_answer_400(
    client: httpx.AsyncClient, name: str, body: bytes
) -> None:
    for path in ANONYMOUS:
        r = await client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, (name, path, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("name", "body"), BODIES)
async def test_authenticated_json_routes_answer_400(
    client: httpx.AsyncClient, make_seller: MakeSeller, name: str, body: bytes
) -> None:
    auth = await make_seller()
    for method, path in AUTHENTICATED:
        headers = auth | {"content-type": "application/json"}
        r = await client.request(method, path, content=body, headers=headers)
        assert r.status_code == 400, (name, path, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("name", "body"), WRONG_SHAPE)
async def test_wrong_shapes_are_4xx_everywhere(
    client: httpx.AsyncClient, make_seller: MakeSeller, name: str, body: bytes
) -> None:
    auth = await make_seller()
    routes = [("POST", p, {}) for p in ANONYMOUS] + [(m, p, auth) for m, p in AUTHENTICATED]
    for method, path, headers in routes:
        r = await client.request(
            method, path, content=body, headers=headers | {"content-type": "application/json"}
        )
        assert r.status_code in (400, 401, 422), (name, path, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/problem+json")
