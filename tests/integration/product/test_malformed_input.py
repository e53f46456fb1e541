"""Malformed product input is a 4xx, never a 500: broken URLs, NUL bytes, oversized CSV fields,
and refreshing a stopped tracking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.integration.conftest import AuthHeaders

pytestmark = pytest.mark.asyncio
MakeSeller = Callable[..., Awaitable[AuthHeaders]]


async def test_malformed_product_urls_and_nul_bytes_are_4xx(
    client: httpx.AsyncClient, make_seller: MakeSeller
) -> None:
    auth = await make_seller()
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": "https://[::1/dp/B0D2XRXNGY"}
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/v1/products/bulk",
        headers=auth,
        json={
            "items": [
                {"product": "www.amazon.com[/dp/B0D2XRXNGY"},
                {"product": "B0D2XRXNGY", "marketplace": "US"},
            ]
        },
    )
    assert r.status_code == 200
    assert [line["result"] for line in r.json()["lines"]] == ["invalid", "tracked"]
    r = await client.post(
        "/api/v1/products",
        headers=auth,
        json={"product": "B0NUL00001", "marketplace": "US", "alias": "bad\u0000alias"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_characters"
    r = await client.post(
        "/api/v1/auth/login", json={"email": "x\u0000@example.com", "password": "whatever-1"}
    )
    assert r.status_code in (400, 401)


async def test_oversized_csv_field_is_a_4xx(
    client: httpx.AsyncClient, make_seller: MakeSeller
) -> None:
    auth = await make_seller()
    body = "product,alias\nB0CSV00001," + "x" * 140_000 + "\n"
    r = await client.post(
        "/api/v1/products/bulk", headers={**auth, "content-type": "text/csv"}, content=body
    )
    assert r.status_code == 422


async def test_refreshing_a_stopped_tracking_is_refused(
    client: httpx.AsyncClient, make_seller: MakeSeller
) -> None:
    auth = await make_seller()
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": "B0STOP0001", "marketplace": "US"}
    )
    tracking = r.json()["id"]
    await client.post(f"/api/v1/products/{tracking}/stop", headers=auth)
    r = await client.post(f"/api/v1/products/{tracking}/refresh", headers=auth)
    assert r.status_code == 409
    assert r.json()["code"] == "tracking_stopped"
