"""Competitor groups through the HTTP API: creation, validation, quota, edits, tenancy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import make_asin
from tests.integration.competitor.conftest import (
    PROBLEM,
    MakeSeller,
    Seller,
    crawl_competitors,
)

GROUPS = "/api/v1/competitor-groups"
SeedSeller = Callable[..., Awaitable[Seller]]


async def _create(
    client: httpx.AsyncClient, seller: Seller, competitors: list[str] | None = None
) -> httpx.Response:
    return await client.post(
        GROUPS,
        headers=seller.auth,
        json={
            "name": "Open-ear rivals",
            "main_tracked_product_id": seller.main_id,
            "competitors": seller.competitors if competitors is None else competitors,
        },
    )


async def _tracked(client: httpx.AsyncClient, seller: Seller) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/products?limit=100", headers=seller.auth)
    assert r.status_code == 200
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_create_group_tracks_new_competitors_and_compares(
    client: httpx.AsyncClient,
    seed_seller: SeedSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    seller = await seed_seller()
    # One competitor is already tracked by the seller: it is reused, not tracked twice.
    r = await client.post(
        "/api/v1/products",
        headers=seller.auth,
        json={"product": seller.competitors[0], "marketplace": "US", "role": "competitor"},
    )
    assert r.status_code == 201
    refs = [
        seller.competitors[0],
        f"https://www.amazon.com/dp/{seller.competitors[1]}?th=1",
        seller.competitors[2],
        seller.competitors[3].lower(),
    ]

    r = await _create(client, seller, refs)

    assert r.status_code == 201, r.text
    group = r.json()
    assert group["marketplace"] == "US" and group["main"]["asin"] == seller.main_asin
    assert [c["asin"] for c in group["competitors"]] == seller.competitors
    assert sorted(group["auto_tracked"]) == sorted(seller.competitors[1:])
    roles = {p["asin"]: p["role"] for p in await _tracked(client, seller)}
    assert all(roles[a] == "competitor" for a in seller.competitors)

    await crawl_competitors(client, sessionmaker, seller, group)
    detail = await client.get(f"{GROUPS}/{group['id']}", headers=seller.auth)
    assert detail.status_code == 200, detail.text
    comparison = detail.json()["comparison"]
    assert comparison["price"]["median_competitor_price"] == "32.50"
    assert comparison["price"]["rank"] == 2 and comparison["price"]["ranked_of"] == 5
    assert comparison["bsr"]["shared_category"] == "Open-Ear Headphones"
    assert any(c["term"] == "long battery" for c in comparison["features"]["missing_from_main"])
    assert all(not f["stale"] for f in detail.json()["freshness"])

    listed = await client.get(GROUPS, headers=seller.auth)
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["id"] == group["id"]


async def test_bad_groups_are_refused_with_problems_and_write_nothing(
    client: httpx.AsyncClient, seed_seller: SeedSeller
) -> None:
    seller = await seed_seller()
    c = seller.competitors
    cases = {
        "two competitors": c[:2],
        "six competitors": [*c, make_asin("B0X"), make_asin("B0X")],
        "the same ASIN twice": [c[0], c[1], c[0]],
        "the main product as its own competitor": [c[0], c[1], seller.main_asin],
        "another marketplace": [c[0], c[1], f"https://www.amazon.de/dp/{c[2]}"],
        "not a product": [c[0], c[1], "https://example.com/not-amazon"],
    }
    for label, refs in cases.items():
        r = await _create(client, seller, refs)
        assert r.status_code == 422, (label, r.status_code, r.text)
        assert r.headers["content-type"].startswith(PROBLEM), label
        assert r.json()["errors"], label
    r = await client.post(GROUPS, headers=seller.auth, json={"name": "x"})
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM)
    r = await client.post(GROUPS, headers=seller.auth, content=b"{not json", params={})
    assert r.status_code == 400
    # Nothing half-written: no group, and none of the competitors got tracked.
    assert (await client.get(GROUPS, headers=seller.auth)).json()["total"] == 0
    assert [p["asin"] for p in await _tracked(client, seller)] == [seller.main_asin]


async def test_main_product_must_be_the_sellers_own(
    client: httpx.AsyncClient, seed_seller: SeedSeller
) -> None:
    seller, other = await seed_seller(), await seed_seller()

    r = await client.post(
        GROUPS,
        headers=seller.auth,
        json={
            "name": "g",
            "main_tracked_product_id": other.main_id,
            "competitors": seller.competitors,
        },
    )

    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    # A competitor-role tracking cannot be the main product either.
    tracked = await client.post(
        "/api/v1/products",
        headers=seller.auth,
        json={"product": make_asin("B0R"), "marketplace": "US", "role": "competitor"},
    )
    r = await client.post(
        GROUPS,
        headers=seller.auth,
        json={
            "name": "g",
            "main_tracked_product_id": tracked.json()["id"],
            "competitors": seller.competitors,
        },
    )
    assert r.status_code == 422


async def test_quota_is_checked_before_anything_is_tracked(
    client: httpx.AsyncClient, seed_seller: SeedSeller
) -> None:
    seller = await seed_seller()
    # The free plan tracks 25 products: 1 + 22 leaves room for 2, the group needs 4.
    items = [{"product": make_asin("B0Q"), "marketplace": "US"} for _ in range(22)]
    r = await client.post("/api/v1/products/bulk", headers=seller.auth, json={"items": items})
    assert r.json()["tracked"] == 22

    r = await _create(client, seller)

    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["code"] == "tracking_quota_exceeded"
    assert body["quota"] == {"limit": 25, "tracked": 23, "requested": 4}
    assert len(await _tracked(client, seller)) == 23


async def test_rename_add_remove_and_delete_within_bounds(
    client: httpx.AsyncClient, seed_seller: SeedSeller
) -> None:
    seller = await seed_seller()
    group = (await _create(client, seller, seller.competitors[:3])).json()
    url = f"{GROUPS}/{group['id']}"

    r = await client.patch(url, headers=seller.auth, json={"name": "Renamed"})
    assert r.status_code == 200 and r.json()["name"] == "Renamed"
    r = await client.patch(url, headers=seller.auth, json={"name": ""})
    assert r.status_code == 400

    r = await client.post(
        f"{url}/competitors", headers=seller.auth, json={"competitors": [seller.competitors[0]]}
    )
    assert r.status_code == 422  # already a member
    fifth = make_asin("B0F")
    r = await client.post(
        f"{url}/competitors",
        headers=seller.auth,
        json={"competitors": [seller.competitors[3], fifth]},
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["competitors"]) == 5
    r = await client.post(
        f"{url}/competitors", headers=seller.auth, json={"competitors": [make_asin("B0S")]}
    )
    assert r.status_code == 422 and r.json()["code"] == "competitor_count"

    members = r = (await client.get(url, headers=seller.auth)).json()["competitors"]
    for member in members[:2]:
        r = await client.delete(
            f"{url}/competitors/{member['tracked_product_id']}", headers=seller.auth
        )
        assert r.status_code == 200, r.text
    r = await client.delete(
        f"{url}/competitors/{members[2]['tracked_product_id']}", headers=seller.auth
    )
    assert r.status_code == 422  # a group keeps at least 3
    r = await client.delete(f"{url}/competitors/{seller.main_id}", headers=seller.auth)
    assert r.status_code == 404

    r = await client.delete(url, headers=seller.auth)
    assert r.status_code == 204
    assert (await client.get(url, headers=seller.auth)).status_code == 404
    # Auto-tracked competitors stay tracked after the group is gone.
    tracked = {p["asin"] for p in await _tracked(client, seller)}
    assert {*seller.competitors, fifth} <= tracked


async def test_another_seller_sees_and_changes_nothing(
    client: httpx.AsyncClient, seed_seller: SeedSeller, make_seller: MakeSeller
) -> None:
    seller = await seed_seller()
    group = (await _create(client, seller)).json()
    report = await client.post(f"{GROUPS}/{group['id']}/reports", headers=seller.auth)
    assert report.status_code == 202
    intruder = await make_seller()
    url = f"{GROUPS}/{group['id']}"
    member = group["competitors"][0]["tracked_product_id"]
    calls = [
        ("GET", url, None),
        ("PATCH", url, {"name": "mine now"}),
        ("DELETE", url, None),
        ("POST", f"{url}/competitors", {"competitors": [make_asin("B0I")]}),
        ("DELETE", f"{url}/competitors/{member}", None),
        ("POST", f"{url}/reports", None),
        ("GET", f"{url}/reports", None),
        ("GET", f"{url}/reports/{report.json()['id']}", None),
    ]
    for method, path, body in calls:
        r = await client.request(method, path, headers=intruder, json=body)
        assert r.status_code == 404, (method, path, r.status_code)
        assert r.headers["content-type"].startswith(PROBLEM)
    assert (await client.get(GROUPS, headers=intruder)).json()["total"] == 0
    # The owner's group is untouched.
    mine = (await client.get(url, headers=seller.auth)).json()
    assert mine["name"] == group["name"] and len(mine["competitors"]) == 4
    # And every route wants a signed-in seller.
    for method, path, body in calls:
        r = await client.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
