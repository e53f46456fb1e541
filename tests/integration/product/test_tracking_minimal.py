"""Tracking a product over HTTP: the parts the crawl pipeline needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.integration.conftest import AuthHeaders

pytestmark = pytest.mark.asyncio
MakeSeller = Callable[..., Awaitable[AuthHeaders]]


async def test_track_by_asin_and_by_url(client: httpx.AsyncClient, make_seller: MakeSeller) -> None:
    auth = await make_seller()
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": "b0d2xrxngy", "marketplace": "US"}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["asin"] == "B0D2XRXNGY"
    assert body["marketplace"] == "US"
    assert body["latest"] is None
    assert body["as_of"] is None
    r = await client.post(
        "/api/v1/products",
        headers=auth,
        json={"product": "https://www.amazon.de/Some-Thing/dp/B0D2XRXNGY/ref=sr_1_1?th=1"},
    )
    assert r.status_code == 201
    assert r.json()["marketplace"] == "DE"


async def test_duplicate_tracking_is_a_conflict(
    client: httpx.AsyncClient, make_seller: MakeSeller
) -> None:
    auth = await make_seller()
    payload = {"product": "B000000001", "marketplace": "UK"}
    assert (await client.post("/api/v1/products", headers=auth, json=payload)).status_code == 201
    r = await client.post("/api/v1/products", headers=auth, json=payload)
    assert r.status_code == 409
    assert r.json()["code"] == "already_tracked"


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"product": "NOT-AN-ASIN!", "marketplace": "US"}, 422, "product"),
        ({"product": "https://example.com/dp/B000000001"}, 422, "product"),
        ({"product": "B000000001"}, 422, "marketplace"),
        ({"product": "B000000001", "marketplace": "XX"}, 400, "marketplace"),
        ({"product": "B000000001", "marketplace": "US", "frequency": "minutely"}, 400, "frequency"),
        ({"product": 1234567890, "marketplace": "US"}, 400, "product"),
    ],
)
async def test_bad_tracking_input(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    payload: dict[str, object],
    status: int,
    field: str,
) -> None:
    auth = await make_seller()
    r = await client.post("/api/v1/products", headers=auth, json=payload)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(field in e["field"] for e in r.json()["errors"])


async def test_other_sellers_cannot_see_a_tracking(
    client: httpx.AsyncClient, make_seller: MakeSeller
) -> None:
    alice, bob = await make_seller(), await make_seller()
    r = await client.post(
        "/api/v1/products", headers=alice, json={"product": "B000000002", "marketplace": "US"}
    )
    tracking_id = r.json()["id"]
    assert (await client.get(f"/api/v1/products/{tracking_id}", headers=alice)).status_code == 200
    r = await client.get(f"/api/v1/products/{tracking_id}", headers=bob)
    assert r.status_code == 404
    # Bob tracking the same ASIN gets his own tracking of the same shared product.
    r = await client.post(
        "/api/v1/products", headers=bob, json={"product": "B000000002", "marketplace": "US"}
    )
    assert r.status_code == 201
    assert r.json()["id"] != tracking_id


async def test_plan_quota_is_enforced(client: httpx.AsyncClient, make_seller: MakeSeller) -> None:
    auth = await make_seller()
    limit = (await client.get("/api/v1/auth/me", headers=auth)).json()["plan"][
        "max_tracked_products"
    ]
    for i in range(limit):
        r = await client.post(
            "/api/v1/products", headers=auth, json={"product": f"B1{i:08d}", "marketplace": "US"}
        )
        assert r.status_code == 201
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": "B199999999", "marketplace": "US"}
    )
    assert r.status_code == 403
    assert r.json()["code"] == "tracking_quota_exceeded"
