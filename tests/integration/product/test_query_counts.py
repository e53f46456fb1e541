"""Round trips of the three paths that used to be N+1: read-model refresh after an ingest, bulk
track, and mark-read. The counts are printed (see docs/queries.md) and bounded, so a query per
row creeping back in fails here."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.models import AlertEvent
from services.auth.models import User
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.product.maintenance import ProductMaintenance
from services.product.models import TrackedProduct
from services.product.service import ProductService
from tests.factories import item, make_run, seed_tracked
from tests.integration.conftest import counted

pytestmark = pytest.mark.asyncio

MakeSeller = Callable[..., Awaitable[dict[str, str]]]


async def test_read_model_refresh_is_a_fixed_number_of_queries(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, redis: Redis
) -> None:
    from services.product.repository import SnapshotRepository

    pids = await seed_tracked(sessionmaker, count=200, sellers=3)
    now = datetime.now(UTC)
    run_id = await make_run(sessionmaker, pids, now)
    async with sessionmaker() as session, session.begin():
        await SnapshotRepository(session).write_page(
            run_id, now, [(pid, item(asin=f"B{pid:09d}")) for pid in pids]
        )
    with counted() as statements:
        async with unit_of_work(sessionmaker, None) as uow:
            result = await ProductMaintenance(
                uow, ReadCache(redis, settings.cache.ttl_s)
            ).refresh_read_models(run_id)
    print(f"\nread-model refresh, 200 products / 3 sellers: {len(statements)} queries")
    assert result == {"states": 200, "lists_invalidated": 3}
    assert len(statements) <= 5


async def test_bulk_track_is_a_fixed_number_of_queries(
    client: httpx.AsyncClient, make_seller: MakeSeller
) -> None:
    auth = await make_seller()
    lines = [{"product": f"B0QC{n:06d}", "marketplace": "US"} for n in range(20)]
    with counted() as statements:
        r = await client.post("/api/v1/products/bulk", headers=auth, json={"items": lines})
    assert r.status_code == 200, r.text
    assert r.json()["tracked"] == 20
    print(f"\nbulk track, 20 lines: {len(statements)} queries")
    assert len(statements) <= 20


async def test_mark_read_is_a_fixed_number_of_queries(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auth = await make_seller("counted@example.com")
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": "B0QCOUNT01", "marketplace": "US"}
    )
    assert r.status_code == 201, r.text
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        user_id = await session.scalar(select(User.id).where(User.email == "counted@example.com"))
        tracking = await session.scalar(
            select(TrackedProduct).where(TrackedProduct.user_id == user_id)
        )
        assert tracking is not None
        run_id = await make_run(sessionmaker, [tracking.product_id], now)
        ids = [uuid.uuid4() for _ in range(50)]
        session.add_all(
            AlertEvent(
                id=event_id,
                user_id=user_id,
                tracked_product_id=tracking.id,
                product_id=tracking.product_id,
                rule="price_change",
                fingerprint=str(n),
                severity="warning",
                message="changed",
                crawl_run_id=run_id,
                snapshot_captured_at=now,
            )
            for n, event_id in enumerate(ids)
        )
    with counted() as statements:
        r = await client.post(
            "/api/v1/alerts/read", headers=auth, json={"ids": [str(i) for i in ids]}
        )
    assert r.json() == {"marked": 50}
    print(f"\nmark-read, 50 ids: {len(statements)} queries")
    assert len(statements) <= 6


async def test_a_page_of_sparklines_is_two_queries_and_only_the_sellers(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The products page draws a 30-day price line per row: one read for the whole page,
    good snapshots only, oldest first, and never another seller's product."""
    from datetime import timedelta
    from decimal import Decimal

    from tests.factories import ingest

    pids = await seed_tracked(sessionmaker, count=25, sellers=2)
    now = datetime.now(UTC)
    for n, pid in enumerate(pids):
        for days_ago, price in ((40, "9.00"), (20, f"{10 + n}.00"), (2, f"{20 + n}.00")):
            parsed = item(asin=f"B{pid:09d}", price=Decimal(price))
            await ingest(sessionmaker, pid, parsed, now - timedelta(days=days_ago))
    async with sessionmaker() as session:
        rows = (await session.execute(select(TrackedProduct))).scalars().all()
        users = sorted({r.user_id for r in rows})
        mine = {r.id: r.product_id for r in rows if r.user_id == users[0]}
        theirs = [r.id for r in rows if r.user_id == users[1]]
        seller = await session.get(User, users[0])
        assert seller is not None
    with counted() as statements:
        async with unit_of_work(sessionmaker, None) as uow:
            series = await ProductService(uow).price_series(seller, [*mine, *theirs[:5]], days=30)
    print(f"\nsparklines, 25 rows: {len(statements)} queries")
    assert len(statements) <= 2
    assert set(series) == set(mine)
    for tracking, pid in mine.items():
        n = pids.index(pid)
        assert series[tracking] == [Decimal(f"{10 + n}.00"), Decimal(f"{20 + n}.00")]
