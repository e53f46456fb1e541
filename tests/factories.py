"""Factories that build test data straight in the database."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.models import AlertEvent
from services.auth.models import User
from services.auth.passwords import hash_password
from services.product.apify.item import BsrEntry, CrawlStatus, ListingContent, ParsedItem
from services.product.marketplaces import Marketplace
from services.product.models import CrawlRun, Product, TrackedProduct
from services.product.repository import SnapshotRepository

_asins = itertools.count(1)


def make_asin(prefix: str = "B0T") -> str:
    return f"{prefix}{next(_asins):07d}"[:10]


async def seed_tracked(
    sessionmaker: async_sessionmaker[AsyncSession],
    count: int,
    sellers: int = 1,
    marketplace: str = "US",
    frequency: str = "daily",
) -> list[int]:
    """Products tracked by `sellers` sellers each; returns the product ids."""
    async with sessionmaker() as session, session.begin():
        users = [
            User(
                email=f"seed{uuid.uuid4().hex[:8]}@example.com",
                password_hash=hash_password("irrelevant-1"),
                plan_id=1,
            )
            for _ in range(sellers)
        ]
        session.add_all(users)
        products = [Product(marketplace=marketplace, asin=make_asin()) for _ in range(count)]
        session.add_all(products)
        await session.flush()
        session.add_all(
            TrackedProduct(user_id=u.id, product_id=p.id, frequency=frequency)
            for u in users
            for p in products
        )
    return [p.id for p in products]


async def make_run(
    sessionmaker: async_sessionmaker[AsyncSession], product_ids: list[int], captured_at: datetime
) -> uuid.UUID:
    """A finished crawl run record, as the crawler leaves it."""
    run_id = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        session.add(
            CrawlRun(
                id=run_id,
                actor="axesso_data/amazon-product-details-scraper",
                product_ids=product_ids,
                asin_count=len(product_ids),
                status="succeeded",
                captured_at=captured_at,
            )
        )
    return run_id


def item(asin: str = "B000000001", **values: object) -> ParsedItem:
    """A good parsed item with sensible defaults; override any field."""
    base: dict[str, object] = {
        "asin": asin,
        "marketplace": Marketplace.US,
        "status": CrawlStatus.OK,
        "currency": "USD",
        "price": Decimal("20.00"),
        "buybox_price": Decimal("20.00"),
        "buybox_seller": "MyShop",
        "in_stock": True,
        "rating": Decimal("4.5"),
        "review_count": 1000,
        "bsr": (BsrEntry(5000, "Electronics"), BsrEntry(100, "Earbuds")),
        "listing": ListingContent(title="Earbuds", brand="B", bullets=("a",), images=("1.jpg",)),
    }
    base.update(values)
    return ParsedItem(**base)  # type: ignore[arg-type]


async def ingest(
    sessionmaker: async_sessionmaker[AsyncSession],
    product_id: int,
    parsed: ParsedItem,
    captured_at: datetime,
) -> uuid.UUID:
    """One crawl of one product, written by the real page writer."""
    run_id = await make_run(sessionmaker, [product_id], captured_at)
    async with sessionmaker() as session, session.begin():
        await SnapshotRepository(session).write_page(run_id, captured_at, [(product_id, parsed)])
    return run_id


async def alert_events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AlertEvent]:
    """Every stored alert, oldest first."""
    async with sessionmaker() as session:
        return list(
            (await session.execute(select(AlertEvent).order_by(AlertEvent.created_at))).scalars()
        )
