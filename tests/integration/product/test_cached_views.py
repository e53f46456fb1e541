"""The product detail and history answers cached whole: a hit reads no database row, every
change a seller can see makes a new answer, and the cache never crosses sellers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.detection import ChangeDetector
from services.core.jobs import create_arq_pool
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.product.maintenance import ProductMaintenance
from services.product.models import Product, TrackedProduct
from services.product.service import ProductService
from tests.factories import ingest, item
from tests.integration.conftest import (
    PASSWORD,
    AuthHeaders,
    counted,
    current_resources,
    pipelined,
    scraped,
)

pytestmark = pytest.mark.asyncio
MakeSeller = Callable[..., Awaitable[AuthHeaders]]
T0 = datetime.now(UTC) - timedelta(days=2)


async def tracked_with_history(
    client: httpx.AsyncClient,
    auth: AuthHeaders,
    sessionmaker: async_sessionmaker[AsyncSession],
    asin: str,
) -> tuple[str, int, uuid.UUID]:
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": asin, "marketplace": "US"}
    )
    assert r.status_code == 201, r.text
    async with sessionmaker() as session:
        pid = (await session.execute(select(Product.id).where(Product.asin == asin))).scalar_one()
    await ingest(sessionmaker, pid, item(asin=asin, price=Decimal("20.00")), T0)
    run = await ingest(
        sessionmaker, pid, item(asin=asin, price=Decimal("12.00")), T0 + timedelta(days=1)
    )
    return str(r.json()["id"]), int(pid), run


async def crawl_finished(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], run: uuid.UUID
) -> None:
    """What the worker does after an ingest: read models refreshed, changes detected."""
    arq: ArqRedis = await create_arq_pool(settings)
    cache = ReadCache(arq, settings.cache.ttl_s)
    try:
        async with unit_of_work(sessionmaker, arq) as uow:
            await ProductMaintenance(uow, cache).refresh_read_models(run)
        async with unit_of_work(sessionmaker, arq) as uow:
            await ChangeDetector(uow, settings, cache).detect_run(run)
    finally:
        await arq.aclose()


async def test_a_cached_detail_and_history_read_no_database_row(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auth = await make_seller()
    tracking, _, _ = await tracked_with_history(client, auth, sessionmaker, "B0VIEW0001")
    paths = [
        f"/api/v1/products/{tracking}",
        f"/api/v1/products/{tracking}/history?range=30d",
        "/api/v1/products?limit=10",
    ]
    first = [(await client.get(p, headers=auth)).json() for p in paths]
    with counted() as sent:
        again = [(await client.get(p, headers=auth)).json() for p in paths]
    assert sent == []
    assert again == first
    # A custom range is not cached: it reads PostgreSQL every time.
    custom = f"/api/v1/products/{tracking}/history"
    since = {"start": (T0 - timedelta(days=1)).isoformat()}
    await client.get(custom, headers=auth, params=since)
    with counted() as sent:
        r = await client.get(custom, headers=auth, params=since)
    assert r.status_code == 200 and sent


async def test_every_visible_change_gives_a_new_detail(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    auth = await make_seller()
    tracking, pid, run = await tracked_with_history(client, auth, sessionmaker, "B0VIEW0002")
    url = f"/api/v1/products/{tracking}"
    before = (await client.get(url, headers=auth)).json()
    assert before["recent_alerts"] == []

    # A crawl with a price drop: the new state and its alert show at once.
    await crawl_finished(settings, sessionmaker, run)
    detail = (await client.get(url, headers=auth)).json()
    assert Decimal(detail["latest"]["price"]) == Decimal("12.00")
    assert [a["rule"] for a in detail["recent_alerts"]] == ["price_change"]
    assert detail["recent_alerts"][0]["read"] is False

    # Reading the alert elsewhere shows in the detail.
    r = await client.post("/api/v1/alerts/read", headers=auth, json={"ids": None})
    assert r.status_code == 200 and r.json()["marked"] == 1
    assert (await client.get(url, headers=auth)).json()["recent_alerts"][0]["read"] is True

    # Settings changes show, as do stop and resume.
    r = await client.patch(url, headers=auth, json={"alias": "Renamed"})
    assert r.status_code == 200
    assert (await client.get(url, headers=auth)).json()["alias"] == "Renamed"
    assert (await client.post(url + "/stop", headers=auth)).status_code == 200
    assert (await client.get(url, headers=auth)).json()["is_active"] is False

    # A later crawl's state shows in the history too.
    history = f"{url}/history?range=7d"
    points = len((await client.get(history, headers=auth)).json()["series"]["price"])
    later = await ingest(
        sessionmaker, pid, item(asin="B0VIEW0002", price=Decimal("13.00")), T0 + timedelta(days=2)
    )
    await crawl_finished(settings, sessionmaker, later)
    assert len((await client.get(history, headers=auth)).json()["series"]["price"]) == points + 1


async def test_a_cached_answer_is_never_another_sellers(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    owner, intruder = await make_seller(), await make_seller()
    tracking, _, _ = await tracked_with_history(client, owner, sessionmaker, "B0VIEW0003")
    paths = [f"/api/v1/products/{tracking}", f"/api/v1/products/{tracking}/history?range=90d"]
    # The owner's version tokens expire (both sellers' then read "0"), then the owner's
    # answers are cached...
    redis = current_resources(client).redis
    await redis.delete(*(await redis.keys("cache:*-version:*")))
    for path in paths:
        assert (await client.get(path, headers=owner)).status_code == 200
        assert (await client.get(path, headers=owner)).status_code == 200
    for path in paths:  # ...and the intruder still gets nothing
        r = await client.get(path, headers=intruder)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"
    # The intruder tracking the same product gets their own answer, not the owner's.
    r = await client.post(
        "/api/v1/products", headers=intruder, json={"product": "B0VIEW0003", "marketplace": "US"}
    )
    theirs = (await client.get(f"/api/v1/products/{r.json()['id']}", headers=intruder)).json()
    assert theirs["id"] == r.json()["id"] != tracking


async def test_a_cached_read_is_one_redis_call_that_counts_it_and_checks_its_token(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await make_seller("onecall@example.com")
    r = await client.post(
        "/api/v1/auth/login", json={"email": "onecall@example.com", "password": PASSWORD}
    )
    pair = r.json()
    auth = {"Authorization": f"Bearer {pair['access_token']}"}
    tracking, _, _ = await tracked_with_history(client, auth, sessionmaker, "B0VIEW0004")
    paths = [
        f"/api/v1/products/{tracking}",
        f"/api/v1/products/{tracking}/history?range=90d",
        "/api/v1/products?limit=10",
    ]
    first = {p: (await client.get(p, headers=auth)).content for p in paths}
    redis = current_resources(client).redis
    sent: list[Any] = []
    send, make_pipeline = redis.execute_command, redis.pipeline

    async def spy(*args: Any, **options: Any) -> Any:
        sent.append(args[0])
        return await send(*args, **options)

    def spied_pipeline(*args: Any, **options: Any) -> Any:
        sent.append("PIPELINE")
        return make_pipeline(*args, **options)

    redis.execute_command = spy
    redis.pipeline = spied_pipeline  # type: ignore[method-assign]
    remaining = []
    try:
        for path in paths:
            sent.clear()
            calls_before = pipelined("count_and_check")[1]
            r = await client.get(path, headers=auth)
            assert r.status_code == 200 and r.content == first[path], path
            # The rate limit, the token's checks and the cached answer: one script call (sent
            # in the edge's automatic pipeline), and no other command.
            assert pipelined("count_and_check")[1] - calls_before == 1, path
            assert sent == [], path
            remaining.append(int(r.headers["ratelimit-remaining"]))
    finally:
        del redis.execute_command, redis.pipeline
    # Each cached read counted once in the seller's window.
    assert remaining == [remaining[0], remaining[0] - 1, remaining[0] - 2]

    # Past the limit a cached read is refused, not answered.
    r = await client.get(paths[0], headers=auth)
    for _ in range(int(r.headers["ratelimit-remaining"]) + 1):
        r = await client.get(paths[0], headers=auth)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    await redis.delete(*(await redis.keys("shelfwatch:ratelimit:*")))

    # A revoked token is refused at once, though its answers are still stored.
    r = await client.post(
        "/api/v1/auth/logout", headers=auth, json={"refresh_token": pair["refresh_token"]}
    )
    assert r.status_code == 204
    for path in paths:
        r = await client.get(path, headers=auth)
        assert r.status_code == 401 and r.json()["code"] == "token_revoked", path


async def test_a_signed_in_read_resolves_its_dependencies_in_turn(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The product routes' dependencies form one chain (user, then unit of work, then
    service): Litestar would resolve independent ones in an anyio task group per request."""
    auth = await make_seller()
    tracking, _, _ = await tracked_with_history(client, auth, sessionmaker, "B0VIEW0005")

    def no_task_group() -> None:
        raise AssertionError("dependencies resolved in a task group")

    monkeypatch.setattr("litestar._kwargs.kwargs_model.create_task_group", no_task_group)
    for path in (
        f"/api/v1/products/{tracking}",
        f"/api/v1/products/{tracking}/history?range=90d",
        "/api/v1/products?limit=10&sort=asin&order=asc",
    ):
        for _ in range(2):  # built, then cached
            assert (await client.get(path, headers=auth)).status_code == 200, path
    # The list's filters are still read and checked.
    r = await client.get("/api/v1/products?limit=0", headers=auth)
    assert r.status_code == 400


async def test_a_cached_read_makes_no_database_session(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = await make_seller()
    tracking, _, _ = await tracked_with_history(client, auth, sessionmaker, "B0VIEW0006")
    paths = [
        f"/api/v1/products/{tracking}",
        f"/api/v1/products/{tracking}/history?range=7d",
        "/api/v1/products?limit=10",
    ]
    for path in paths:
        await client.get(path, headers=auth)
    made: list[AsyncSession] = []
    build = AsyncSession.__init__

    def spy(self: AsyncSession, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        build(self, *args, **kwargs)

    monkeypatch.setattr(AsyncSession, "__init__", spy)
    for path in paths:
        assert (await client.get(path, headers=auth)).status_code == 200
    assert made == []
    # A write still gets its session, and commits.
    r = await client.patch(f"/api/v1/products/{tracking}", headers=auth, json={"alias": "New"})
    assert r.status_code == 200 and made
    assert (await client.get(paths[0], headers=auth)).json()["alias"] == "New"


async def test_a_stored_answer_is_sent_by_the_edge_as_the_route_sends_it(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once stored, a cached read is answered before the router (no dependencies, no service)
    with the bytes and headers the route gave, still counted, logged and measured."""
    auth = await make_seller()
    tracking, _, _ = await tracked_with_history(client, auth, sessionmaker, "B0VIEW0007")
    paths = [
        f"/api/v1/products/{tracking}",
        f"/api/v1/products/{tracking}/history?range=30d",
        "/api/v1/products?limit=5&sort=asin&order=asc",
    ]
    routed = {path: await client.get(path, headers=auth) for path in paths}

    def route_entered(*_: Any, **__: Any) -> None:
        raise AssertionError("a stored answer went through the route")

    for method in ("detail_json", "history_json", "list_page_json"):
        monkeypatch.setattr(ProductService, method, route_entered)
    metrics_before = (await client.get("/metrics")).text
    for path in paths:
        first = routed[path]
        stored = await client.get(path, headers=auth)
        assert stored.status_code == first.status_code == 200, path
        assert stored.content == first.content, path
        skipped = {"date", "x-request-id", "ratelimit-remaining", "ratelimit-reset"}
        assert {k: v for k, v in stored.headers.items() if k not in skipped} == {
            k: v for k, v in first.headers.items() if k not in skipped
        }, path
        assert stored.headers["x-request-id"] != first.headers["x-request-id"]
        assert int(stored.headers["ratelimit-remaining"]) < int(
            first.headers["ratelimit-remaining"]
        )
    metrics_after = (await client.get("/metrics")).text
    total = "shelfwatch_http_requests_total"
    for template in (
        "/api/v1/products/{tracking_id}",
        "/api/v1/products/{tracking_id}/history",
        "/api/v1/products",
    ):
        grew = scraped(metrics_after, total, template) - scraped(metrics_before, total, template)
        assert grew == 1, template
    # Another seller's token never gets those bytes: their lookup is under their own id.
    monkeypatch.undo()
    intruder = await make_seller()
    r = await client.get(paths[0], headers=intruder)
    assert r.status_code == 404


async def test_the_edge_reuses_its_copy_only_while_it_is_the_current_entry(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Redis sends a stored answer to the edge once per version: later reads of the same
    version are answered from the process's copy; a new version or the entry's expiry ends it."""
    auth = await make_seller()
    tracking, _, _ = await tracked_with_history(client, auth, sessionmaker, "B0VIEW0008")
    path = f"/api/v1/products/{tracking}"
    first = await client.get(path, headers=auth)  # built and stored
    second = await client.get(path, headers=auth)  # sent by Redis, copy kept
    assert second.content == first.content
    redis = current_resources(client).redis
    (entry,) = await redis.keys("cache:detail-json:*")
    # Whatever the entry's bytes now are, Redis does not send them again under this version.
    await redis.set(entry, b'{"not":"sent"}', keepttl=True)
    assert (await client.get(path, headers=auth)).content == first.content
    # A change a seller sees gives a new version: the copy is not used.
    r = await client.patch(path, headers=auth, json={"alias": "Renamed"})
    assert r.status_code == 200
    assert (await client.get(path, headers=auth)).json()["alias"] == "Renamed"
    # Nor past the entry's life in Redis: the row changed behind the cache's back (no new
    # version), the entry expired there, and the next read is built afresh from the row.
    assert (await client.get(path, headers=auth)).json()["alias"] == "Renamed"  # copy kept
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(TrackedProduct)
            .where(TrackedProduct.id == uuid.UUID(tracking))
            .values(alias="Changed behind")
        )
    (entry,) = [k for k in await redis.keys("cache:detail-json:*") if k != entry]
    await redis.pexpire(entry, 50)
    await asyncio.sleep(0.1)
    assert (await client.get(path, headers=auth)).json()["alias"] == "Changed behind"


@pytest.mark.parametrize(
    "odd",
    [
        "limit=5&active=yes",  # the route's spelling of a flag is true / false
        "limit=5&limit=7",  # a parameter given twice
        "limit=05",  # a number not as the filters write it
        "limit=5&colour=red",  # a parameter the route does not take
    ],
)
async def test_a_query_the_route_reads_differently_is_left_to_the_route(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    odd: str,
) -> None:
    """The edge sends a stored answer only for a query the route would read the same way: an
    odd spelling gets the route's own answer whether or not a look-alike is stored."""
    auth = await make_seller()
    await tracked_with_history(client, auth, sessionmaker, "B0VIEW0009")
    cold = await client.get(f"/api/v1/products?{odd}", headers=auth)
    for plain in ("limit=5&active=true", "limit=5", "limit=7"):  # look-alikes, stored
        for _ in range(2):
            assert (await client.get(f"/api/v1/products?{plain}", headers=auth)).status_code == 200
    warm = await client.get(f"/api/v1/products?{odd}", headers=auth)
    assert warm.status_code == cold.status_code, warm.text
    assert warm.headers["content-type"] == cold.headers["content-type"]
    if cold.status_code == 200:
        assert warm.json()["items"] == cold.json()["items"]
