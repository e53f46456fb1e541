"""Seeding helpers for the optimization tests: a seller's product, its competitors, history."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.db import create_engine, create_sessionmaker
from services.core.jobs import Queue, create_arq_pool
from services.core.settings import Settings
from services.product.apify.client import ApifyConnector
from services.product.apify.item import BsrEntry, ListingContent
from services.product.models import Product
from tasks.runtime import TaskContext
from tasks.worker import build_worker
from tests.factories import ingest, item
from tests.integration.conftest import AuthHeaders

MakeSeller = Callable[..., Awaitable[AuthHeaders]]

OWN = "B0OPTMAIN1"
COMPETITORS = {
    "B0OPTCMP01": (
        "Soundwave Open Ear Headphones, Noise Cancelling Wireless Earbuds",
        ("Noise cancelling for calls", "Waterproof design for sport", "USB-C charging"),
        Decimal("19.99"),
    ),
    "B0OPTCMP02": (
        "Bassline Wireless Earbuds, Open Ear Headphones with Noise Cancelling Mic",
        ("Noise cancelling microphone", "Waterproof IPX5", "30h playtime"),
        Decimal("24.99"),
    ),
    "B0OPTCMP03": (
        "Trailrun Open Ear Headphones, Sport Earbuds, Waterproof",
        ("Waterproof for running", "Secure ear hooks", "USB-C fast charging"),
        Decimal("21.99"),
    ),
}
WEAK_LISTING = ListingContent(
    title="HEADPHONES!!! Best Seller - earbuds earbuds earbuds",
    brand="Quietly",
    bullets=("Good sound", "Good sound"),
    images=("1.jpg", "2.jpg"),
)


async def product_id(sessionmaker: async_sessionmaker[AsyncSession], asin: str) -> int:
    async with sessionmaker() as session:
        return int(
            (await session.execute(select(Product.id).where(Product.asin == asin))).scalar_one()
        )


@dataclass
class Seeded:
    auth: AuthHeaders
    tracking_id: str
    product_id: int


async def seed_seller(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    captured_at: datetime | None = None,
) -> Seeded:
    """A seller tracking a weak listing priced 29.99 and three competitors (19.99-24.99)."""
    auth = await make_seller()
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": OWN, "marketplace": "US"}
    )
    assert r.status_code == 201, r.text
    tracking_id = r.json()["id"]
    when = captured_at or datetime.now(UTC) - timedelta(hours=1)
    for asin, (title, bullets, price) in COMPETITORS.items():
        r = await client.post(
            "/api/v1/products",
            headers=auth,
            json={"product": asin, "marketplace": "US", "role": "competitor"},
        )
        assert r.status_code in (201, 409), r.text
        listing = ListingContent(
            title=title, brand=title.split()[0], bullets=bullets, images=tuple("12345678")
        )
        await ingest(
            sessionmaker,
            await product_id(sessionmaker, asin),
            item(asin=asin, price=price, listing=listing),
            when,
        )
    pid = await product_id(sessionmaker, OWN)
    await ingest(
        sessionmaker,
        pid,
        item(
            asin=OWN,
            price=Decimal("29.99"),
            rating=Decimal("3.9"),
            review_count=12,
            listing=WEAK_LISTING,
        ),
        when,
    )
    return Seeded(auth, tracking_id, pid)


async def seed_history(
    sessionmaker: async_sessionmaker[AsyncSession],
    pid: int,
    live: datetime,
    *,
    before_rank: float,
    after_rank: float,
    days_before: int = 14,
    days_after: int = 14,
    seed: int = 1,
) -> None:
    """One noisy crawl a day around ``live``: subcategory rank moves from before to after."""
    rng = random.Random(seed)
    reviews = 500
    for d in range(-days_before, days_after):
        reviews += rng.randint(3, 7)
        rank = after_rank if d >= 0 else before_rank
        await ingest(
            sessionmaker,
            pid,
            item(
                asin=OWN,
                price=Decimal("29.99"),
                review_count=reviews,
                rating=Decimal("4.2"),
                bsr=(
                    BsrEntry(20000, "Electronics"),
                    BsrEntry(max(1, round(rng.gauss(rank, rank * 0.06))), "Earbuds"),
                ),
                listing=WEAK_LISTING,
            ),
            live + timedelta(days=d, hours=1),
        )


async def run_low_queue(settings: Settings) -> None:
    """Drain the `low` queue with a real ARQ worker running the registered tasks (burst mode)."""
    engine = create_engine(settings)
    redis = await create_arq_pool(settings)
    context = TaskContext(
        settings, engine, create_sessionmaker(engine), redis, ApifyConnector(settings.apify)
    )
    worker = build_worker(Queue.LOW, 2, context)
    worker.burst = True
    try:
        await worker.main()  # burst: returns once the queue is empty and its jobs finished
    finally:
        await redis.aclose()
        if context.openai is not None:
            await context.openai.aclose()
        await engine.dispose()
