"""Crawl cost per day and per product, from the crawl-run records, for admins only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli.admin import create_admin
from services.core.settings import Settings
from services.product.models import CrawlRun, Product
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.asyncio


async def test_cost_per_day_and_per_product(
    client: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        a, b = (
            Product(marketplace="US", asin="B000000001"),
            Product(marketplace="US", asin="B000000002"),
        )
        session.add_all([a, b])
        await session.flush()
        session.add_all(
            [
                # Yesterday: one run over both products for $1.00 -> $0.50 each.
                CrawlRun(
                    actor="junglee",
                    product_ids=[a.id, b.id],
                    asin_count=2,
                    status="succeeded",
                    cost_usd=Decimal("1.00"),
                    created_at=now - timedelta(days=1),
                ),
                # Today: one run over product a alone for $0.30.
                CrawlRun(
                    actor="junglee",
                    product_ids=[a.id],
                    asin_count=1,
                    status="succeeded",
                    cost_usd=Decimal("0.30"),
                    created_at=now,
                ),
                # Outside a 7-day window.
                CrawlRun(
                    actor="junglee",
                    product_ids=[b.id],
                    asin_count=1,
                    status="succeeded",
                    cost_usd=Decimal("5.00"),
                    created_at=now - timedelta(days=20),
                ),
            ]
        )
        await session.commit()
    await create_admin(settings, "ops@example.com", PASSWORD)
    r = await client.post(
        "/api/v1/auth/login", json={"email": "ops@example.com", "password": PASSWORD}
    )
    admin = {"Authorization": f"Bearer {r.json()['access_token']}"}

    r = await client.get("/api/v1/admin/crawl-costs", params={"days": 7}, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["runs"] == 2 and Decimal(body["total_cost_usd"]) == Decimal("1.30")
    assert [Decimal(d["cost_usd"]) for d in body["per_day"]] == [Decimal("0.30"), Decimal("1.00")]
    per_product = {p["asin"]: p for p in body["per_product"]}
    assert Decimal(per_product["B000000001"]["cost_usd"]) == Decimal("0.80")
    assert Decimal(per_product["B000000002"]["cost_usd"]) == Decimal("0.50")
    # $0.80 over 7 days is about $3.43 over 30.
    assert Decimal(per_product["B000000001"]["cost_per_month_usd"]) == Decimal("3.4286")
    assert per_product["B000000001"]["runs"] == 2

    assert (
        await client.get("/api/v1/admin/crawl-costs", params={"days": 0}, headers=admin)
    ).status_code == 400
