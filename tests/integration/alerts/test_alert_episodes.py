"""A change and the move that undoes it are one alert: the reversal ends the first alert."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.detection import ChangeDetector, DetectionResult
from services.alerts.schemas import AlertRead
from services.core.jobs import create_arq_pool
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.uow import UnitOfWork, unit_of_work
from services.product.apify.item import BsrEntry, ParsedItem
from services.product.maintenance import ProductMaintenance
from services.product.models import Product
from tests.factories import alert_events, ingest, item, seed_tracked
from tests.integration.conftest import AuthHeaders

pytestmark = pytest.mark.asyncio
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MakeSeller = Callable[..., Awaitable[AuthHeaders]]
UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


async def detect(
    new_uow: UowFactory, settings: Settings, run_id: uuid.UUID, now: datetime
) -> DetectionResult:
    async with new_uow() as uow:
        return await ChangeDetector(uow, settings).detect_run(run_id, now)


async def after_ingest(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    run: uuid.UUID,
    *,
    refresh: bool = True,
    detect: bool = True,
) -> None:
    """What the worker does after an ingest, in two jobs: read models refreshed, changes
    detected."""
    arq = await create_arq_pool(settings)
    cache = ReadCache(arq, settings.cache.ttl_s)
    try:
        if refresh:
            async with unit_of_work(sessionmaker, arq) as uow:
                await ProductMaintenance(uow, cache).refresh_read_models(run)
        if detect:
            async with unit_of_work(sessionmaker, arq) as uow:
                await ChangeDetector(uow, settings, cache).detect_run(run)
    finally:
        await arq.aclose()


async def test_a_one_day_deal_is_one_alert_that_ends_when_the_price_comes_back(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    drop = await ingest(sessionmaker, pid, item(price=Decimal("15.00")), T0 + DAY)
    assert (await detect(new_uow, settings, drop, T0 + DAY)).events == 1

    back = await ingest(sessionmaker, pid, item(price=Decimal("19.99")), T0 + 2 * DAY)
    result = await detect(new_uow, settings, back, T0 + 2 * DAY)
    assert (result.events, result.ended) == (0, 1)
    (alert,) = await alert_events(sessionmaker)
    assert alert.rule == "price_change"
    assert alert.ended_at == T0 + 2 * DAY
    assert alert.ended_value == "19.99"
    assert alert.ended_message == "Price drop over: back to 19.99 USD after 1 day"
    assert alert.ended_crawl_run_id == back
    shown = AlertRead.model_validate(alert)
    assert (shown.ended_at, shown.ended_message) == (alert.ended_at, alert.ended_message)

    # Detection run again for either crawl (a retried job) neither stores the rise back as an
    # alert nor ends anything twice.
    again = await detect(new_uow, settings, back, T0 + 2 * DAY)
    assert (again.events, again.ended) == (0, 0)
    assert (await detect(new_uow, settings, drop, T0 + 2 * DAY)).events == 0
    (same,) = await alert_events(sessionmaker)
    assert (same.id, same.ended_at, same.ended_crawl_run_id) == (alert.id, T0 + 2 * DAY, back)


async def test_the_sellers_own_deal_is_stored_as_one_and_told_as_information(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    """The page's deal flag goes through ingest into detection: the seller's own deal is a
    line in the brief (info), not a critical price alert, and ends when the deal does."""
    (pid,) = await seed_tracked(sessionmaker, count=1)  # tracked as the seller's own
    await ingest(sessionmaker, pid, item(), T0)
    deal = await ingest(sessionmaker, pid, item(price=Decimal("13.00"), deal=True), T0 + DAY)
    assert (await detect(new_uow, settings, deal, T0 + DAY)).events == 1
    (alert,) = await alert_events(sessionmaker)
    assert (alert.rule, alert.severity) == ("price_change", "info")
    assert alert.message.endswith("(deal)")
    over = await ingest(sessionmaker, pid, item(deal=False), T0 + 2 * DAY)
    assert (await detect(new_uow, settings, over, T0 + 2 * DAY)).ended == 1


async def test_a_price_that_stays_down_keeps_its_alert_open(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    drop = await ingest(sessionmaker, pid, item(price=Decimal("15.00")), T0 + DAY)
    await detect(new_uow, settings, drop, T0 + DAY)
    # Up a little, still more than 10 % under where it was: the episode goes on.
    partly = await ingest(sessionmaker, pid, item(price=Decimal("17.50")), T0 + 2 * DAY)
    assert (await detect(new_uow, settings, partly, T0 + 2 * DAY)).ended == 0
    (alert,) = await alert_events(sessionmaker)
    assert alert.ended_at is None


async def test_back_in_stock_ends_the_stock_out_instead_of_a_second_alert(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    out = await ingest(
        sessionmaker, pid, item(in_stock=False, price=None, buybox_price=None), T0 + DAY
    )
    await detect(new_uow, settings, out, T0 + DAY)
    back = await ingest(sessionmaker, pid, item(), T0 + 4 * DAY)
    assert (await detect(new_uow, settings, back, T0 + 4 * DAY)).events == 0
    (alert,) = await alert_events(sessionmaker)
    assert alert.rule == "out_of_stock"
    assert alert.ended_message == "Back in stock after 3 days"


async def test_outside_the_episode_window_the_move_back_is_an_alert_of_its_own(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    # The re-arm window counts from when an alert was stored (the wall clock): off, and detection
    # told the time now, to see the episode window alone.
    unarmed = settings.model_copy(deep=True)
    unarmed.alerts.rearm_window_s = 0
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    drop = await ingest(sessionmaker, pid, item(price=Decimal("15.00")), T0 + DAY)
    await detect(new_uow, unarmed, drop, datetime.now(UTC))
    # Measured on capture times: eight days after the drop's snapshot, the default 7 are over.
    back = await ingest(sessionmaker, pid, item(), T0 + 9 * DAY)
    result = await detect(new_uow, unarmed, back, datetime.now(UTC))
    assert (result.events, result.ended) == (1, 0)
    assert [(a.rule, a.ended_at) for a in await alert_events(sessionmaker)] == [
        ("price_change", None),
        ("price_change", None),
    ]


async def test_a_rank_is_weighed_against_its_usual_level_of_the_week_before(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    def ranked(sub: int) -> ParsedItem:
        return item(bsr=(BsrEntry(5000, "Electronics"), BsrEntry(sub, "Earbuds")))

    (pid,) = await seed_tracked(sessionmaker, count=1)
    for day, sub in enumerate((100, 105, 95)):
        await ingest(sessionmaker, pid, ranked(sub), T0 + day * DAY)
    outlier = await ingest(sessionmaker, pid, ranked(60), T0 + 3 * DAY)
    assert (await detect(new_uow, settings, outlier, T0 + 3 * DAY)).events == 1
    # Back at #100: 67 % worse than yesterday, but where the rank has been all week (the
    # median of the snapshots before is #95): the first alert ends, no second one.
    usual = await ingest(sessionmaker, pid, ranked(100), T0 + 4 * DAY)
    result = await detect(new_uow, settings, usual, T0 + 4 * DAY)
    assert (result.events, result.ended) == (0, 1)
    (alert,) = await alert_events(sessionmaker)
    assert alert.message == "Best Sellers Rank in Earbuds improved from #95 to #60 (usually #100)"
    assert alert.ended_message == "Best Sellers Rank in Earbuds back to #100 after 1 day"


async def test_the_api_and_the_cached_product_detail_show_the_ending(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    auth = await make_seller()
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": "B0EPIS0001", "marketplace": "US"}
    )
    assert r.status_code == 201, r.text
    url = f"/api/v1/products/{r.json()['id']}"
    async with sessionmaker() as session:
        query = select(Product.id).where(Product.asin == "B0EPIS0001")
        pid = (await session.execute(query)).scalar_one()
    start = datetime.now(UTC) - timedelta(days=3)
    await ingest(sessionmaker, pid, item(asin="B0EPIS0001"), start)
    drop = await ingest(sessionmaker, pid, item("B0EPIS0001", price=Decimal("15.00")), start + DAY)
    await after_ingest(settings, sessionmaker, drop)
    back = await ingest(sessionmaker, pid, item(asin="B0EPIS0001"), start + 2 * DAY)
    await after_ingest(settings, sessionmaker, back, detect=False)
    (shown,) = (await client.get(url, headers=auth)).json()["recent_alerts"]
    assert shown["ended_message"] is None  # and this detail is now cached

    # Detection ends the alert: the cached detail gives way to one that shows it.
    await after_ingest(settings, sessionmaker, back, refresh=False)
    (shown,) = (await client.get(url, headers=auth)).json()["recent_alerts"]
    assert shown["ended_message"] == "Price drop over: back to 20.00 USD after 1 day"
    (listed,) = (await client.get("/api/v1/alerts", headers=auth)).json()["items"]
    assert listed["ended_value"] == "20.00"
    assert datetime.fromisoformat(listed["ended_at"]) == start + 2 * DAY
    assert listed["ended_message"] == shown["ended_message"]
