"""An alert that a later crawl ended shows as over, with how it ended, on the seller's pages."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.detection import ChangeDetector
from services.core.jobs import create_arq_pool
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.product.models import Product
from tests.factories import ingest, item
from tests.integration.web.conftest import submit

pytestmark = pytest.mark.asyncio
SignUp = Callable[..., Awaitable[str]]
ENDED = "Price drop over: back to 20.00 USD after 1 day"


async def detect(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], run: uuid.UUID
) -> None:
    arq = await create_arq_pool(settings)
    try:
        async with unit_of_work(sessionmaker, arq) as uow:
            cache = ReadCache(arq, settings.cache.ttl_s)
            await ChangeDetector(uow, settings, cache).detect_run(run)
    finally:
        await arq.aclose()


async def test_inbox_product_page_and_brief_show_an_ended_alert_as_over(
    browser: httpx.AsyncClient,
    sign_up: SignUp,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await sign_up()
    r = await submit(
        browser, "/products/add", "/products/add", {"product": "B000OVER01", "marketplace": "US"}
    )
    assert r.status_code == 303, r.text
    tracking_id = str(r.headers["location"]).rsplit("/", 1)[1]
    async with sessionmaker() as session:
        query = select(Product.id).where(Product.asin == "B000OVER01")
        product_id = (await session.execute(query)).scalar_one()
    start = datetime.now(UTC) - timedelta(days=3)
    await ingest(sessionmaker, product_id, item("B000OVER01"), start)
    drop = item("B000OVER01", price=Decimal("15.00"))
    await detect(
        settings,
        sessionmaker,
        await ingest(sessionmaker, product_id, drop, start + timedelta(days=1)),
    )
    inbox = (await browser.get("/alerts?show=all")).text
    assert "Price dropped 25.0%" in inbox and 'data-testid="alert-ended"' not in inbox

    back = await ingest(sessionmaker, product_id, item("B000OVER01"), start + timedelta(days=2))
    await detect(settings, sessionmaker, back)
    inbox = (await browser.get("/alerts?show=all")).text
    assert 'data-testid="alert-ended"' in inbox and ENDED in inbox
    assert inbox.count('class="alert-row') == 1  # the rise back is no alert of its own
    product = (await browser.get(f"/products/{tracking_id}")).text
    assert '<span class="pill">over</span> ' + ENDED in product
    brief = (await browser.get("/")).text
    assert f"— {ENDED}" in brief and "Over already" in brief
