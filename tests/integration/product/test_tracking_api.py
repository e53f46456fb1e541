"""The tracking API as a seller uses it: list, detail, settings, history, versions, refresh."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.jobs import Queue, queue_key
from services.product.apify.item import ListingContent
from services.product.models import Product
from tests.factories import ingest, item
from tests.integration.conftest import AuthHeaders

pytestmark = pytest.mark.asyncio
MakeSeller = Callable[..., Awaitable[AuthHeaders]]
NOW = datetime.now(UTC).replace(microsecond=0)


async def track(
    client: httpx.AsyncClient, auth: AuthHeaders, asin: str, **extra: Any
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": asin, "marketplace": "US", **extra}
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def product_id(sessionmaker: async_sessionmaker[AsyncSession], asin: str) -> int:
    async with sessionmaker() as session:
        return int(
            (await session.execute(select(Product.id).where(Product.asin == asin))).scalar_one()
        )


@pytest.fixture
async def seller_with_history(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[AuthHeaders, dict[str, Any]]:
    auth = await make_seller()
    tracked = await track(client, auth, "B0HIST0001", alias="Earbuds", tags=["audio"])
    pid = await product_id(sessionmaker, "B0HIST0001")
    for days_ago, price in ((40, "30.00"), (10, "25.00"), (6, "22.00"), (1, "20.00")):
        await ingest(
            sessionmaker,
            pid,
            item(asin="B0HIST0001", price=Decimal(price)),
            NOW - timedelta(days=days_ago),
        )
    await ingest(
        sessionmaker,
        pid,
        item(
            asin="B0HIST0001",
            price=Decimal("20.00"),
            listing=ListingContent(
                title="Earbuds v2", brand="B", bullets=("a", "b"), images=("1.jpg",)
            ),
        ),
        NOW - timedelta(hours=1),
    )
    return auth, tracked


async def test_list_shows_latest_state_seven_day_change_and_age(
    client: httpx.AsyncClient,
    seller_with_history: tuple[AuthHeaders, dict[str, Any]],
    make_seller: MakeSeller,
) -> None:
    auth, _ = seller_with_history
    await track(client, auth, "B0OTHER001", tags=["kitchen"], role="competitor")
    r = await client.get("/api/v1/products", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 2
    row = next(i for i in body["items"] if i["asin"] == "B0HIST0001")
    assert Decimal(row["price"]) == Decimal("20.00")
    assert Decimal(row["price_change_7d_pct"]) == Decimal("-20.00")  # from 25.00 ten days ago
    assert row["as_of"] is not None
    assert row["title"] == "Earbuds v2"
    assert row["main_bsr"] == {"rank": 5000, "category": "Electronics"}

    async def asins(**params: Any) -> list[str]:
        r = await client.get("/api/v1/products", headers=auth, params=params)
        assert r.status_code == 200, r.text
        return [i["asin"] for i in r.json()["items"]]

    assert await asins(tag="audio") == ["B0HIST0001"]
    assert await asins(role="competitor") == ["B0OTHER001"]
    assert await asins(q="earbuds") == ["B0HIST0001"]
    assert await asins(sort="asin", order="asc") == ["B0HIST0001", "B0OTHER001"]
    assert await asins(sort="price", order="desc") == ["B0HIST0001", "B0OTHER001"]  # nulls last
    assert await asins(limit=1, offset=1, sort="asin", order="asc") == ["B0OTHER001"]
    for bad in (
        {"limit": 1000},
        {"limit": 0},
        {"sort": "password"},
        {"role": "boss"},
        {"order": "up"},
    ):
        r = await client.get("/api/v1/products", headers=auth, params=bad)
        assert r.status_code == 400, bad
        assert r.headers["content-type"].startswith("application/problem+json")
    # Another seller sees none of it.
    other = await make_seller()
    assert (await client.get("/api/v1/products", headers=other)).json()["total"] == 0


async def test_detail_update_stop_resume(
    client: httpx.AsyncClient, seller_with_history: tuple[AuthHeaders, dict[str, Any]]
) -> None:
    auth, tracked = seller_with_history
    url = f"/api/v1/products/{tracked['id']}"
    detail = (await client.get(url, headers=auth)).json()
    assert detail["latest"]["bsr"] == [
        {"rank": 5000, "category": "Electronics"},
        {"rank": 100, "category": "Earbuds"},
    ]
    assert detail["listing"]["title"] == "Earbuds v2"
    assert detail["thresholds"]["price_change_pct"] == "10"
    r = await client.patch(
        url,
        headers=auth,
        json={
            "alias": "Buds",
            "frequency": "hourly",
            "thresholds": {"price_change_pct": 5, "my_seller_name": "MyShop"},
        },
    )
    assert r.status_code == 200, r.text
    assert (r.json()["alias"], r.json()["frequency"]) == ("Buds", "hourly")
    assert r.json()["thresholds"]["price_change_pct"] == "5"
    for bad in (
        {"thresholds": {"price_change_pct": 0}},
        {"thresholds": {"rating_drop": 9}},
        {"thresholds": {"bogus": 1}},
        {"frequency": "secondly"},
        {"alias": 12},
    ):
        r = await client.patch(url, headers=auth, json=bad)
        assert r.status_code == 400, (bad, r.text)
    r = await client.post(url + "/stop", headers=auth)
    assert r.json()["is_active"] is False
    assert (await client.get(url, headers=auth)).json()["latest"] is not None  # history kept
    assert (await client.post(url + "/resume", headers=auth)).json()["is_active"] is True


async def test_history_series_and_csv(
    client: httpx.AsyncClient, seller_with_history: tuple[AuthHeaders, dict[str, Any]]
) -> None:
    auth, tracked = seller_with_history
    url = f"/api/v1/products/{tracked['id']}/history"
    r = await client.get(url, headers=auth, params={"metric": "price", "range": "30d"})
    assert r.status_code == 200
    points = r.json()["series"]["price"]
    assert [p["v"] for p in points] == ["25.00", "22.00", "20.00", "20.00"]  # 40 days ago is out
    assert r.json()["as_of"] is not None
    r = await client.get(url, headers=auth, params={"metric": "price", "range": "90d"})
    assert len(r.json()["series"]["price"]) == 5
    r = await client.get(url, headers=auth, params={"metric": "bsr", "range": "7d"})
    assert set(r.json()["series"]) == {"Electronics", "Earbuds"}
    start = (NOW - timedelta(days=12)).isoformat()
    end = (NOW - timedelta(days=5)).isoformat()
    r = await client.get(url, headers=auth, params={"metric": "price", "start": start, "end": end})
    assert [p["v"] for p in r.json()["series"]["price"]] == ["25.00", "22.00"]
    for bad in (
        {"metric": "password"},
        {"range": "2d"},
        {"start": end, "end": start},
        {"start": "yesterday"},
        {"start": (NOW - timedelta(days=1000)).isoformat()},
    ):
        r = await client.get(url, headers=auth, params=bad)
        assert r.status_code in (400, 422), (bad, r.text)
    r = await client.get(url + ".csv", headers=auth, params={"range": "90d"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["price"] for row in rows] == ["30.00", "25.00", "22.00", "20.00", "20.00"]
    assert rows[0]["main_category"] == "Electronics"


async def test_listing_versions_with_changes(
    client: httpx.AsyncClient, seller_with_history: tuple[AuthHeaders, dict[str, Any]]
) -> None:
    auth, tracked = seller_with_history
    r = await client.get(f"/api/v1/products/{tracked['id']}/listing-versions", headers=auth)
    assert r.status_code == 200
    versions = r.json()["items"]
    assert len(versions) == 2
    assert versions[0]["changes"]["title"] == {"old": "Earbuds", "new": "Earbuds v2"}
    assert versions[0]["changes"]["bullets"]["added"] == ["b"]
    assert versions[1]["changes"] == {}


async def test_listing_versions_answer_a_capped_page(
    client: httpx.AsyncClient, seller_with_history: tuple[AuthHeaders, dict[str, Any]]
) -> None:
    auth, tracked = seller_with_history
    url = f"/api/v1/products/{tracked['id']}/listing-versions"
    first = (await client.get(url, headers=auth, params={"limit": 1})).json()
    assert (first["total"], first["limit"], first["offset"], len(first["items"])) == (2, 1, 0, 1)
    # The newest version of a page is still diffed against the older one beyond the page.
    assert first["items"][0]["changes"]["title"] == {"old": "Earbuds", "new": "Earbuds v2"}
    second = (await client.get(url, headers=auth, params={"limit": 1, "offset": 1})).json()
    assert [v["changes"] for v in second["items"]] == [{}]
    r = await client.get(url, headers=auth, params={"limit": 101})
    assert r.status_code == 400


async def test_refresh_is_queued_deduplicated_fresh_and_limited(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
) -> None:
    auth = await make_seller()
    tracked = await track(client, auth, "B0FRESH001")
    url = f"/api/v1/products/{tracked['id']}/refresh"
    r = await client.post(url, headers=auth)
    assert r.status_code == 202
    first = r.json()
    assert first["status"] == "queued"
    assert first["job_id"].startswith("product.refresh_batch:")
    assert await redis.zscore(queue_key(Queue.CRITICAL), first["job_id"]) is not None
    again = (await client.post(url, headers=auth)).json()
    assert again["status"] == "already_queued"
    assert again["job_id"] == first["job_id"]
    # Freshly crawled: answered from data unless forced.
    pid = await product_id(sessionmaker, "B0FRESH001")
    await ingest(sessionmaker, pid, item(asin="B0FRESH001"), datetime.now(UTC))
    r = await client.post(url, headers=auth)
    assert (r.status_code, r.json()["status"]) == (200, "fresh")
    # The plan's daily allowance counts queued refreshes (the first one above included).
    limit = (await client.get("/api/v1/auth/me", headers=auth)).json()["plan"]["refreshes_per_day"]
    others = [await track(client, auth, f"B0LIMIT{i:03d}") for i in range(limit)]
    statuses = [
        (await client.post(f"/api/v1/products/{t['id']}/refresh", headers=auth)).status_code
        for t in others
    ]
    assert statuses == [202] * (limit - 1) + [429]
    r = await client.post(f"/api/v1/products/{others[-1]['id']}/refresh", headers=auth)
    assert r.status_code == 429
    assert r.json()["code"] == "refresh_limit_reached"
    assert int(r.headers["retry-after"]) > 0


async def test_bulk_track_json_and_csv(client: httpx.AsyncClient, make_seller: MakeSeller) -> None:
    auth = await make_seller()
    await track(client, auth, "B0BULK0001")
    r = await client.post(
        "/api/v1/products/bulk",
        headers=auth,
        json={
            "items": [
                {"product": "B0BULK0001", "marketplace": "US"},
                {"product": "https://www.amazon.de/dp/B0BULK0002"},
                {"product": "not an asin", "marketplace": "US"},
                {"product": "B0BULK0003"},
                {"product": "B0BULK0004", "marketplace": "US", "frequency": "never"},
            ]
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [line["result"] for line in body["lines"]] == [
        "already_tracked",
        "tracked",
        "invalid",
        "invalid",
        "invalid",
    ]
    assert (body["tracked"], body["already_tracked"], body["invalid"]) == (1, 1, 3)
    assert "marketplace" in body["lines"][3]["reason"].lower()
    csv_body = "product,marketplace,alias,tags\nB0BULK0005,US,First,a;b\nB0BULK0006,UK,,\n"
    r = await client.post(
        "/api/v1/products/bulk", headers={**auth, "content-type": "text/csv"}, content=csv_body
    )
    assert r.status_code == 200, r.text
    assert r.json()["tracked"] == 2
    listed = (await client.get("/api/v1/products", headers=auth, params={"tag": "a"})).json()
    assert [i["alias"] for i in listed["items"]] == ["First"]
    too_many = {"items": [{"product": f"B0MANY{i:04d}", "marketplace": "US"} for i in range(101)]}
    assert (
        await client.post("/api/v1/products/bulk", headers=auth, json=too_many)
    ).status_code == 422
    assert (
        await client.post("/api/v1/products/bulk", headers=auth, json={"items": "x"})
    ).status_code == 422
    r = await client.post(
        "/api/v1/products/bulk", headers={**auth, "content-type": "text/csv"}, content="asin\nB0X"
    )
    assert r.status_code == 422


async def test_every_route_hides_another_sellers_product(
    client: httpx.AsyncClient,
    seller_with_history: tuple[AuthHeaders, dict[str, Any]],
    make_seller: MakeSeller,
) -> None:
    _, tracked = seller_with_history
    intruder = await make_seller()
    base = f"/api/v1/products/{tracked['id']}"
    calls = [
        ("GET", base, None),
        ("PATCH", base, {"alias": "mine now"}),
        ("POST", base + "/stop", None),
        ("POST", base + "/resume", None),
        ("GET", base + "/history", None),
        ("GET", base + "/history.csv", None),
        ("GET", base + "/listing-versions", None),
        ("POST", base + "/refresh", None),
    ]
    for method, url, body in calls:
        r = await client.request(method, url, headers=intruder, json=body)
        assert r.status_code == 404, (method, url, r.status_code)
        assert r.json()["code"] == "not_found"


async def test_reads_fall_back_to_postgres_when_redis_is_down(
    client: httpx.AsyncClient, seller_with_history: tuple[AuthHeaders, dict[str, Any]]
) -> None:
    from redis.asyncio import ConnectionPool

    from tests.integration.conftest import current_resources

    auth, tracked = seller_with_history
    resources = current_resources(client)
    healthy = resources.redis.connection_pool
    resources.redis.connection_pool = ConnectionPool.from_url("redis://127.0.0.1:1/0")
    try:
        r = await client.get(f"/api/v1/products/{tracked['id']}", headers=auth)
        assert r.status_code == 200
        assert Decimal(r.json()["latest"]["price"]) == Decimal("20.00")
        r = await client.get("/api/v1/products", headers=auth)
        assert r.status_code == 200
        assert r.json()["total"] == 1
        r = await client.get(f"/api/v1/products/{tracked['id']}/history", headers=auth)
        assert r.status_code == 200
    finally:
        await resources.redis.connection_pool.disconnect()
        resources.redis.connection_pool = healthy


async def test_list_pages_picked_before_the_lookups_match_the_full_query(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Without a title search the page is picked before the full per-product lookups; a search
    that matches every row takes the full query: both give the same rows, order, totals and
    latest state for every sort, in both directions."""
    auth = await make_seller()
    aliases = ["beta", None, "Alpha", "beta", None, "gamma", "alpha"]
    for n, alias in enumerate(aliases):
        await track(client, auth, f"B0PAGE{n:04d}", **({"alias": alias} if alias else {}))
    for n, price in ((0, "14"), (3, "12.50"), (5, "14"), (6, "30")):
        pid = await product_id(sessionmaker, f"B0PAGE{n:04d}")
        await ingest(sessionmaker, pid, item(asin=f"B0PAGE{n:04d}", price=Decimal(price)), NOW)
        if n != 6:  # a week-old price for some: their 7-day change is known
            old = item(asin=f"B0PAGE{n:04d}", price=Decimal(10 + n))
            await ingest(sessionmaker, pid, old, NOW - timedelta(days=8))

    async def page(**params: Any) -> dict[str, Any]:
        r = await client.get("/api/v1/products", headers=auth, params=params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    sorts = ("created_at", "alias", "asin", "price", "rating", "reviews", "price_change_7d")
    for sort in sorts:
        for order in ("asc", "desc"):
            paging = {"sort": sort, "order": order, "limit": 3, "offset": 2}
            picked_first = await page(**paging)
            full = await page(**paging, q="B0PAGE")
            assert picked_first == full, paging
            assert len(picked_first["items"]) == 3
    whole = await page(sort="price_change_7d", order="desc", limit=50)
    assert whole == await page(sort="price_change_7d", order="desc", limit=50, q="B0PAGE")
    assert whole["total"] == len(aliases)
